"""A throwaway PostgreSQL + PostGIS cluster for tests that must stop and start the database itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port


def _binaries() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if not root.exists():
        return None
    for version in sorted((p.name for p in root.iterdir()), key=lambda v: -float(v)):
        if (root / version / "bin" / "postgres").exists() and \
                Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return root / version / "bin"
    return None


@dataclass
class Cluster:
    """A running cluster: `url` for the app, `stop()`/`start()` to cause an outage."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/landcycle"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def psql(self, sql: str, db: str = "landcycle") -> None:
        self._run("psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql)


def create() -> Cluster | None:
    """initdb + start + a `landcycle` database with PostGIS; None when PostgreSQL/PostGIS is missing."""
    binaries = _binaries()
    if binaries is None:
        return None
    base = Path(tempfile.mkdtemp(prefix="landcycle-faults-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    cluster = Cluster(binaries, data, free_port())
    cluster._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    cluster.start()
    cluster.psql("CREATE DATABASE landcycle", db="postgres")
    cluster.psql("CREATE EXTENSION postgis")
    return cluster


def destroy(cluster: Cluster) -> None:
    """Stop the cluster and remove its files."""
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop()
    shutil.rmtree(cluster.data.parent, ignore_errors=True)
