"""`python -m bench [NAME] [ARGS…]`: run one benchmark (default: all)."""

from __future__ import annotations

import sys

from bench import evaluations, imports, load, wfs

BENCHMARKS = {"evaluations": evaluations.main, "imports": imports.main, "load": load.main, "wfs": wfs.main}


def main(argv: list[str]) -> int:
    """Dispatch to a benchmark by name."""
    if argv and argv[0] in BENCHMARKS:
        return BENCHMARKS[argv[0]](argv[1:])
    if argv and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; one of {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    return max(run(argv) for run in BENCHMARKS.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
