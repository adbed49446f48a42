"""Benchmarks (RESULTS.md holds recorded runs)."""
