"""The `landcycle` command, run as a real subprocess against the test database."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.conftest import TEST_URL


def landcycle(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": TEST_URL}
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
