"""Organisations: the responsible orgs of SPEC §1 (§5 `/organisations`)."""
