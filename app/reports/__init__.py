"""Reports: industrial land against rule 11, evaluations due, efficiency A–D (SPEC §5 `/reports`)."""
