"""The REST benchmark's harness (`make bench`, bench/README.md) in its quick mode on a small city, from a
fresh work directory as a new clone has none: it must measure every case against the raw PostGIS baseline,
on the REST API and on the OGC API's items (`landcycle-ogc`), and print their ratio rows, or refuse a bad
selection in one line before starting anything.

The peers (tipg, pygeoapi) are left out: each needs a virtualenv installed from PyPI, too slow for CI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_URL
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
# The Landcycle ÷ raw column: a time ratio for whole-collection walks, a share of raw req/s for load cases.
RATIO = re.compile(r"^\d+\.\d\d× raw time$|^\d+ % of raw$")


def _bench_database() -> str:
    """A database of the harness's own next to the test database (the harness creates and loads it)."""
    test = make_url(TEST_URL)
    return test.set(drivername="postgresql", database=f"{test.database}_bench").render_as_string(
        hide_password=False)


def _bench(work: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    environ.update(BENCH_DIR=str(work), BENCH_PORT=str(free_port()), **env)
    return subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=300, check=False)


def _ratio_rows(report: str, labels: set[str]) -> dict[str, str]:
    """Case label → its Landcycle ÷ raw cell, from the printed table."""
    rows = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0] in labels:
            rows[cells[0]] = cells[3]
    return rows


@pytest.mark.live
@pytest.mark.slow
def test_quick_run_from_a_fresh_work_dir_measures_every_case_against_raw(tmp_path: Path) -> None:
    if importlib.util.find_spec("aiohttp") is None:
        pytest.fail("bench/requirements.txt is not installed in this virtualenv (`make test` installs it)")
    from bench.report import ogc_label
    from bench.runner import CASES

    labels = {label for _, label, _ in CASES} | {ogc_label(label) for _, label, _ in CASES}
    work = tmp_path / "fresh-clone" / ".bench"  # does not exist, as in a new clone
    results_before = hashlib.sha256(RESULTS.read_bytes()).hexdigest()

    run = _bench(work, BENCH_QUICK="1", BENCH_SCALE="1k", BENCH_SERVERS="landcycle,landcycle-ogc,raw",
                 BENCH_DATABASE_URL=_bench_database())

    assert run.returncode == 0, run.stderr[-3000:]
    rows = _ratio_rows(run.stdout, labels)
    assert set(rows) == labels, run.stdout
    for label, ratio in rows.items():
        assert RATIO.match(ratio), f"{label}: {ratio!r}"
    assert "Checks that failed" not in run.stdout, run.stdout  # every server returned raw's rows
    assert "quick run: results not appended" in run.stderr
    assert (work / "results-1k.png").stat().st_size > 0  # the chart goes to the work dir, not bench/
    assert (work / "landcycle.log").exists() and (work / "landcycle-ogc.log").exists()
    assert hashlib.sha256(RESULTS.read_bytes()).hexdigest() == results_before


@pytest.mark.parametrize(("env", "named"), [
    ({"BENCH_SERVERS": "landcycle,tipgg"}, "'tipgg'"),
    ({"BENCH_CASES": "stream,bbox4"}, "'bbox4'"),
    ({"BENCH_CASES": ","}, "none given"),
])
def test_unknown_server_or_case_is_refused_in_one_line_before_anything_starts(
        tmp_path: Path, env: dict[str, str], named: str) -> None:
    work = tmp_path / ".bench"
    # A database nobody can reach: touching it would fail otherwise than the refusal.
    run = _bench(work, BENCH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nowhere", **env)

    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert named in lines[0] and "choose from" in lines[0]
    assert not work.exists()
