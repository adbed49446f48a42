"""A throwaway PostgreSQL + PostGIS cluster for tests that must stop and start the database itself, and a
streaming hot standby of one (`pg_basebackup -R`: `primary_conninfo` and `standby.signal`) for the
read-replica tests and bench."""

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
    standby: bool = False

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

    def query(self, sql: str, db: str = "landcycle") -> str:
        """One value (psql -At)."""
        cmd = [str(self.bin / "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
               "-d", db, "-c", sql]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, timeout=60, text=True).stdout.strip()


REPLICATION_USER = "replicator"


def create(replication: bool = False) -> Cluster | None:
    """initdb + start + a `landcycle` database with PostGIS; None when PostgreSQL/PostGIS is missing. With
    `replication`: `wal_level=replica`, WAL senders and a replication role, ready for `add_standby`."""
    binaries = _binaries()
    if binaries is None:
        return None
    base = Path(tempfile.mkdtemp(prefix="landcycle-replicas-" if replication else "landcycle-faults-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    cluster = Cluster(binaries, data, free_port())
    cluster._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if replication:
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\nwal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n"
                       "wal_keep_size = '256MB'\nhot_standby_feedback = on\n")
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication {REPLICATION_USER} 127.0.0.1/32 trust\n")
    cluster.start()
    if replication:
        cluster.psql(f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN", db="postgres")
    cluster.psql("CREATE DATABASE landcycle", db="postgres")
    cluster.psql("CREATE EXTENSION postgis")
    return cluster


def add_standby(primary: Cluster) -> Cluster:
    """A hot standby of `primary` (made by `create(replication=True)`) on a port of its own, streaming from
    it: `pg_basebackup -R` writes its `primary_conninfo` and `standby.signal`. Its files sit beside the
    primary's, so `destroy(primary)` removes them too (stop it first: `destroy(standby)`)."""
    data = primary.data.parent / f"standby-{free_port()}"
    standby = Cluster(primary.bin, data, free_port(), standby=True)
    standby._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", REPLICATION_USER, "-D", str(data),
                 "-R", "-X", "stream", "-c", "fast")
    standby.start()
    return standby


def destroy(cluster: Cluster) -> None:
    """Stop the cluster and remove its files."""
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop()
    shutil.rmtree(cluster.data if cluster.standby else cluster.data.parent, ignore_errors=True)
