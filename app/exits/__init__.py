"""Exits (issue 3)."""
