"""Organisations (issue 3)."""
