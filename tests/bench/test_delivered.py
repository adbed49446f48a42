"""The delivered-figures benchmark (`python -m bench delivered`, bench/README.md) on a small city of its own
from a fresh work directory: it loads the city, delivers a year of figures through the delivery service and
records that year's evaluations from them, timing each phase, and leaves RESULTS.md alone without --write."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_URL

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"


@pytest.mark.live
@pytest.mark.slow
def test_a_small_city_delivers_a_year_and_records_it_from_the_figures(tmp_path: Path) -> None:
    test = make_url(TEST_URL)
    database = test.set(drivername="postgresql", database=f"{test.database}_bench_delivered")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    environ.update(BENCH_DIR=str(tmp_path / "bench"),
                   BENCH_DATABASE_URL=database.render_as_string(hide_password=False))
    before = RESULTS.read_bytes()
    run = subprocess.run([sys.executable, "-m", "bench", "delivered", "--scale", "1k"], cwd=ROOT, env=environ,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert re.search(r"^deliver [\d,]+ figures of [\d,]+ enterprises \(4 batches\): \d+\.\d\d s$", out, re.M), out
    assert re.search(r"^  figures of the year \(one statement\): \d+\.\d\d s$", out, re.M), out
    assert re.search(r"^year record \d{4}: \d+\.\d\d s$", out, re.M), out
    done = re.search(r"^([\d,]+) due, ([\d,]+) recorded, ([\d,]+) skipped; outcomes \{(.*)\}", out, re.M)
    assert done is not None, out
    assert int(done[2].replace(",", "")) > 0 and "'pass'" in done[4]
    assert RESULTS.read_bytes() == before
