"""Interrupting an import leaves the database exactly as before (SPEC §5 CLI: all or nothing): a real `landcycle import`
process killed with SIGKILL or SIGINT, or its connection cut, while its rows are inserted but not
committed. The import is held at that point by taking the overlap guard's lock (the parcel insert
trigger waits for it), so the interruption lands mid-way every time, without sleeping."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.main import create_app
from tests import builders
from tests.conftest import TEST_URL, make_settings
from tests.imports.files import Row, city_rows, frame, square, write
from tests.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# The overlap guard's locks (migration 0010): one per grid cell, here every cell of the service extent.
GUARD = ("SELECT pg_advisory_lock(10, c) "
         "FROM parcel_overlap_cells(ST_MakeEnvelope(120.8, 30.6, 122.2, 31.9, 4490)) AS c")
UNGUARD = "SELECT pg_advisory_unlock_all()"


def many_rows(n: int) -> list[Row]:
    """n small fragments in a grid west of the community zone (no overlaps)."""
    return [
        Row(
            f"M-{i:05d}",
            "industrial",
            square(121.31 + (i % 100) * 0.0015, 31.12 + (i // 100) * 0.0012, 80),
            "fragment",
        )
        for i in range(n)
    ]


def cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": TEST_URL, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def import_backend(conn, waiting: bool = True, limit_s: float = 60.0) -> int:
    """The pid of the import's backend once it waits on the guard (or just exists)."""

    async def backend() -> int | None:
        return await conn.scalar(
            text("""
            SELECT pid FROM pg_stat_activity WHERE application_name = 'landcycle import'
               AND (NOT :waiting OR wait_event_type = 'Lock') LIMIT 1"""),
            {"waiting": waiting},
        )

    return int(await wait_until(backend, limit_s, "the import to reach the parcel insert"))


async def gone(conn, pid: int, limit_s: float = 30.0) -> None:
    """Once backend `pid` has ended (PostgreSQL notices a dead client on its own time)."""

    async def ended() -> bool:
        return not await conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid})

    await wait_until(ended, limit_s, f"backend {pid} to end")


@pytest.fixture
async def guard(live_db):
    """A connection of our own (autocommit) to hold the guard and watch pg_stat_activity."""
    await builders.build_city(live_db)
    engine = create_async_engine(TEST_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        yield conn
        await conn.execute(text("SELECT pg_advisory_unlock_all()"))
    await engine.dispose()


async def counts(conn) -> tuple[int, int]:
    parcels = await conn.scalar(text("SELECT count(*) FROM parcel"))
    audit = await conn.scalar(
        text("SELECT count(*) FROM audit_log WHERE action = 'import' AND outcome = 'done'")
    )
    return int(parcels), int(audit)


@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C", "lost connection"])
async def test_interrupted_import_leaves_the_database_as_before(guard, tmp_path: Path, how: str):
    # 1,200 rows: enough for the measures to be computed on a second connection (bulk.APART_ROWS)
    path = write(frame(many_rows(1200), 4549), tmp_path / "many.gpkg")
    before = await counts(guard)
    await guard.execute(text(GUARD))
    proc = cli("import", str(path), cwd=tmp_path)
    try:
        pid = await import_backend(guard)
        assert await guard.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
        if how == "kill -9":
            proc.send_signal(signal.SIGKILL)
        elif how == "Ctrl-C":
            proc.send_signal(signal.SIGINT)
        else:
            await guard.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        if how != "lost connection":
            proc.wait(timeout=30)
    finally:
        await guard.execute(text(UNGUARD))
    _, err = proc.communicate(timeout=60)
    await gone(guard, pid)
    assert await counts(guard) == before
    # No staging table outlives the session, for anyone.
    assert not await guard.scalar(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'bulk_parcel_%'"))
    if how == "kill -9":
        assert proc.returncode == -signal.SIGKILL
    elif how == "Ctrl-C":
        assert proc.returncode == 130 and "nothing was committed" in err, err
    else:
        assert proc.returncode == 1 and "nothing was committed" in err, err
    assert "Traceback" not in err, err


async def test_cli_skip_invalid_writes_the_report_and_dry_run_writes_nothing(guard, tmp_path: Path):
    rows = [
        Row("C-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("C-2", "industrial", square(121.4505, 31.1505), None),
    ]
    path = write(frame(rows, 4490), tmp_path / "two.gpkg")
    _, audited = await counts(guard)
    dry = cli("import", str(path), "--dry-run", "--skip-invalid", cwd=tmp_path)
    out, err = dry.communicate(timeout=120)
    assert dry.returncode == 1 and "dry run: nothing written" in out, (out, err)
    assert await counts(guard) == (0, audited)
    refused = cli("import", str(path), cwd=tmp_path)
    out, err = refused.communicate(timeout=120)
    assert refused.returncode == 1 and "refused: nothing written" in out
    assert "row 2 (C-2): PARCEL_OVERLAP overlaps row 1 (C-1)" in err
    assert (tmp_path / "two.refused.gpkg").exists()
    done = cli("import", str(path), "--skip-invalid", "--report", str(tmp_path / "r.csv"), cwd=tmp_path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, (out, err)
    assert out.strip().startswith("read 2, accepted 1, refused 1,") and "committed 1 parcels" in out
    (report,) = csv.DictReader((tmp_path / "r.csv").read_text().splitlines())
    assert (report["row"], report["code"], report["feature_code"]) == ("2", "PARCEL_OVERLAP", "C-2")
    assert shapely.from_wkt(report["wkt"]).area > 0  # the refused row as drawn
    assert await counts(guard) == (1, audited + 1)
    bad = cli("import", str(tmp_path / "missing.gpkg"), cwd=tmp_path)
    out, err = bad.communicate(timeout=120)
    assert bad.returncode == 1 and "VALIDATION_ERROR" in err and "Traceback" not in err


async def test_http_import_runs_in_the_background(guard, live_db, tmp_path: Path):
    app = create_app(make_settings(), live_db)
    path = write(frame(city_rows("BG"), 4490), tmp_path / "bg.gpkg")
    _, audited = await counts(guard)
    await guard.execute(text(GUARD))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        try:
            posted = await client.post(
                "/api/v1/imports",
                files={"file": ("bg.gpkg", path.read_bytes())},
                headers=builders.basic("bureau"),
            )
            assert posted.status_code == 202, posted.text
            await import_backend(guard)  # the job is mid-insert, holding its transaction open …
            assert (await client.get("/healthz")).status_code == 200  # … and the server answers
            running = (await client.get(posted.headers["location"], headers=builders.basic("bureau"))).json()
            assert running["status"] == "running" and running["phase"] == "inserting"
        finally:
            await guard.execute(text(UNGUARD))
        from app.imports.jobs import runner_of

        await runner_of(app.state).drain()
        job = (await client.get(posted.headers["location"], headers=builders.basic("bureau"))).json()
    assert job["status"] == "succeeded" and job["counts"]["accepted"] == 5
    assert await counts(guard) == (5, audited + 1)  # one batch: no row names another row of the file
