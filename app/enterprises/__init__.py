"""Enterprises (issue 3)."""
