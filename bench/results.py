"""bench/RESULTS.md: every benchmark appends its dated section here (no third-party imports, so the
light benchmarks run without bench/requirements.txt)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def append(path: Path, text: str) -> None:
    """Append a section to RESULTS.md (created with a header when missing)."""
    if not path.exists():
        path.write_text("# Benchmark results (`make bench`)\n\nEach run appends a section; see README.md "
                        "§ Benchmarks for the method.\n\n")
    with path.open("a") as out:
        out.write("\n" + text)


def publish(report: str, write: bool) -> None:
    """Print a benchmark's section; with `--write`, append it to RESULTS.md too."""
    print(report)
    if write:
        append(RESULTS, report)
