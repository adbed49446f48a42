"""Exits: exit candidates and exit cases (SPEC §3 rules 7–8)."""
