"""The audit log (SPEC rule 10)."""
