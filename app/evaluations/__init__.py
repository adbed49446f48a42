"""Evaluations: schedule, results and consequences (SPEC §3 rules 5–7)."""
