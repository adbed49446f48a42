"""Evaluations (issue 3)."""
