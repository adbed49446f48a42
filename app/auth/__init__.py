"""Authentication (token, HTTP Basic) and the roles and district scope of SPEC §4."""
