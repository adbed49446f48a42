"""Real `landcycle serve` processes for tests whose clients talk HTTP (WFS clients, faults, fuzzing, browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import TEST_URL
from tests.waiting import wait_until


def free_port(ports: range | None = None) -> int:
    """A TCP port nobody listens on right now: any, or the first free one of `ports` (a suite's own range)."""
    for port in ports or (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}" if ports else "no free port")


def start_server(port: int, database_url: str = TEST_URL, **env: str) -> subprocess.Popen[bytes]:
    """`landcycle serve` on `database_url` (default: the test database), ready when /healthz answers."""
    exe = Path(sys.executable).parent / "landcycle"
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LANDCYCLE_SECRET_KEY": "live-test-key-for-the-suite-only-0123456789ab",
        "LANDCYCLE_LOG_JSON": "false",
        "LANDCYCLE_LOG_LEVEL": "warning",
        **env,
    }
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 30, "the server to answer /healthz", interval=0.2)
    except AssertionError:
        proc.terminate()
        raise RuntimeError("server did not start in 30 s") from None
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server this harness started (by its own handle)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
