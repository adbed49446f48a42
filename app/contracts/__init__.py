"""Contracts: signing, terms and their rules (SPEC §3 rules 2, 4, 5; §5 `/contracts`)."""
