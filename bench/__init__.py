"""Benchmarks (`make bench`, `python -m bench NAME`); results and how they were measured in RESULTS.md."""
