"""`make bench` (python -m bench): the benchmarks of this directory; see RESULTS.md for recorded runs."""

from bench import evaluations

if __name__ == "__main__":
    evaluations.main()
