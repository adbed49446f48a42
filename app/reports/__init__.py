"""Reports (issue 3)."""
