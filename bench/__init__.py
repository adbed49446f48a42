"""Benchmarks: `make bench` (python -m bench; README, Benchmarks); results in RESULTS.md."""
