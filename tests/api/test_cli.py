"""The `landcycle` command, run as a real subprocess against the test database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import TEST_URL


def landcycle(*args: str, stdin: str | None = None, url: str = TEST_URL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.mark.live
async def test_users_add_creates_a_hashed_user_who_can_log_in(live_db):
    from app.auth.security import verify_password
    from app.auth.service import find_user
    from tests.builders import build_city

    await build_city(live_db)
    done = landcycle("users", "add", "officer.new", "--role", "district_officer", "--district", "310115",
                     "--password-stdin", stdin="a-long-password\n")
    assert done.returncode == 0, done.stderr
    assert "officer.new (district_officer, 310115) saved" in done.stdout
    async with live_db.session() as session:
        user = await find_user(session, "officer.new")
        assert user is not None and user.password_hash.startswith("$argon2")
        assert verify_password(user.password_hash, "a-long-password")


@pytest.mark.live
async def test_users_add_refuses_a_district_role_without_a_district(live_db):
    done = landcycle("users", "add", "x", "--role", "evaluator", "--password-stdin", stdin="a-long-password\n")
    assert done.returncode == 1 and "VALIDATION_ERROR" in done.stderr
    async with live_db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM app_user")) == 0


def test_db_check_reports_agreement():
    done = landcycle("db", "check")
    assert done.returncode == 0 and "agree" in done.stdout


def test_help_lists_every_command_without_loading_the_database_or_gis_libraries():
    # `landcycle --help` and `landcycle import --help` answer at once: each command loads its libraries when
    # it runs (they take about two seconds to load).
    heavy = ("sqlalchemy", "geopandas", "pyogrio", "shapely", "fastapi")
    probe = f"import sys\nimport app.cli\napp.cli.build_parser()\nprint([m for m in {heavy} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"
    shown = landcycle("--help")
    assert shown.returncode == 0
    assert all(word in shown.stdout for word in ("db", "demo", "users", "import", "export", "evaluations", "serve"))
    flags = landcycle("import", "--help").stdout
    assert "--skip-invalid" in flags and "{parcels,zones,districts}" in flags


def test_a_database_that_cannot_be_used_is_said_in_one_line_without_the_password(tmp_path: Path):
    from sqlalchemy.engine import make_url

    server = make_url(TEST_URL).set(password="s3cret")
    closed = server.set(host="127.0.0.1", port=1)  # nothing listens on port 1
    missing = server.set(database="landcycle_no_such_database")
    for args, url, reason in [
        (("export", str(tmp_path / "p.csv")), closed, "Connect call failed"),
        (("import", str(tmp_path / "p.gpkg")), closed, "Connect call failed"),
        (("db", "upgrade"), missing, 'database "landcycle_no_such_database" does not exist'),
        (("demo", "load"), missing, 'database "landcycle_no_such_database" does not exist'),
    ]:
        done = landcycle(*args, url=url.render_as_string(hide_password=False))
        assert done.returncode == 1, done.stderr
        said = [line for line in done.stderr.splitlines() if line.startswith(f"landcycle {args[0]}: ")]
        assert said and reason in said[0] and "***@" in said[0], done.stderr
        assert "Traceback" not in done.stderr and "s3cret" not in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # no half-written export


def test_export_into_a_missing_directory_is_refused_before_reading(tmp_path: Path):
    done = landcycle("export", str(tmp_path / "no" / "such" / "p.gpkg"))
    assert done.returncode == 1 and "VALIDATION_ERROR" in done.stderr and "no such directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_byte_order_mark_is_for_a_csv_only(tmp_path: Path):
    done = landcycle("export", str(tmp_path / "p.gpkg"), "--bom")
    assert done.returncode == 1 and "VALIDATION_ERROR: --bom is for a .csv file" in done.stderr
    assert not list(tmp_path.iterdir())
