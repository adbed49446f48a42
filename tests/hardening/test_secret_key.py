"""The signing key (SPEC §4 tokens): the service refuses a short or placeholder key, compose ships none,
and the workers of one `landcycle serve` share one key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from app.auth.keys import InsecureKey, checked_key
from app.main import create_app
from app.settings import Settings
from tests import builders
from tests.conftest import TEST_URL
from tests.servers import free_port, stop_server

ROOT = Path(__file__).resolve().parents[2]
GOOD = "k3Jx9-QpZ2vLr7Yt0BwNc4Hs8UaEm1Gd6FiOjKlPq"


@pytest.mark.parametrize("key", ["short-key", "change-me-in-production", "changeme", "x" * 40,
                                 "please-change-me-before-going-live-0123456789"])
def test_a_short_placeholder_or_repetitive_key_is_refused(key):
    with pytest.raises(InsecureKey):
        Settings(database_url=TEST_URL, secret_key=key).signing_key  # noqa: B018


def test_a_random_key_of_32_bytes_or_more_is_taken():
    assert Settings(database_url=TEST_URL, secret_key=GOOD).signing_key == GOOD.encode()
    assert checked_key(os.urandom(32), "a key") is not None


def test_a_key_file_is_checked_like_the_variable(tmp_path):
    short = tmp_path / "short"
    short.write_text("hunter2\n")
    with pytest.raises(InsecureKey, match="7 bytes"):
        Settings(database_url=TEST_URL, secret_key_file=short).signing_key  # noqa: B018
    good = tmp_path / "good"
    good.write_text(GOOD + "\n")
    assert Settings(database_url=TEST_URL, secret_key_file=good).signing_key == GOOD.encode()
    with pytest.raises(InsecureKey, match="missing"):
        Settings(database_url=TEST_URL, secret_key_file=tmp_path / "missing").signing_key  # noqa: B018


def test_the_app_is_not_built_with_a_placeholder_key():
    with pytest.raises(InsecureKey, match="placeholder"):
        create_app(Settings(database_url=TEST_URL, secret_key="change-me-in-production"))


def _environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANDCYCLE_SECRET_KEY", "LANDCYCLE_SECRET_KEY_FILE")}
    return {**env, "DATABASE_URL": TEST_URL, "LANDCYCLE_LOG_JSON": "false", "LANDCYCLE_LOG_LEVEL": "warning",
            **extra}


def test_landcycle_serve_refuses_to_start_with_a_short_key():
    exe = Path(sys.executable).parent / "landcycle"
    done = subprocess.run([str(exe), "serve", "--port", str(free_port())], env=_environ(LANDCYCLE_SECRET_KEY="abc"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "landcycle serve: refusing to start: LANDCYCLE_SECRET_KEY has 3 bytes; a signing key needs at least 32 "
        "(e.g. `openssl rand -base64 48`)"]


def test_compose_ships_no_usable_secret():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    app_env = compose["services"]["app"]["environment"]
    db_env = compose["services"]["db"]["environment"]
    # compose's `${NAME:?message}` stops `docker compose up` until the operator sets the value
    assert app_env["LANDCYCLE_SECRET_KEY"].startswith("${LANDCYCLE_SECRET_KEY:?")
    assert db_env["POSTGRES_PASSWORD"].startswith("${LANDCYCLE_DB_PASSWORD:?")
    assert "${LANDCYCLE_DB_PASSWORD:?" in app_env["DATABASE_URL"]


def _status_of_tokens_across_two_workers() -> list[int]:
    """`landcycle serve --workers 2` with no key: log in and use the tokens, a fresh connection each time
    (the kernel hands connections to either worker)."""
    port = free_port()
    exe = Path(sys.executable).parent / "landcycle"
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--workers", "2"], env=_environ(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        answers = []
        for _ in range(6):
            with httpx.Client(base_url=base, timeout=10) as http:
                token = http.post("/api/v1/auth/token", data={"username": "bureau",
                                                              "password": builders.PASSWORD}).json()["access_token"]
            for _ in range(4):
                with httpx.Client(base_url=base, timeout=10) as http:
                    answers.append(http.get("/api/v1/auth/me",
                                            headers={"Authorization": f"Bearer {token}"}).status_code)
        return answers
    finally:
        stop_server(proc)


@pytest.mark.live
async def test_two_workers_without_a_configured_key_accept_each_others_tokens(live_db):
    await builders.build_city(live_db)
    assert await asyncio.to_thread(_status_of_tokens_across_two_workers) == [200] * 24
