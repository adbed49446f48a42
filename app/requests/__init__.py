"""Plot-ratio adjustment requests: the district officers' simplified procedure (SPEC rule 9)."""
