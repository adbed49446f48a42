"""Contracts (issue 3)."""
