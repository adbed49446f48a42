"""The servers under test: Landcycle (its REST API, and its OGC API – Features at /ogc as `landcycle-ogc`, a
process of its own), tipg and pygeoapi, each started on its own port with the same number of uvicorn workers
(uvloop + httptools where the server's own install has them) and no access log.

tipg and pygeoapi live in virtualenvs of their own under `.bench/`, installed from PyPI at pinned
versions: they are never dependencies of the app. pygeoapi 0.22+ needs Python ≥ 3.12; Debian 12 has 3.11,
so the newest pygeoapi it runs is 0.21.0.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench.database import BENCH_DIR, ROOT, say, work_dir

PINS = {
    "tipg": ["tipg==1.6.1", "uvicorn[standard]==0.54.0"],
    "pygeoapi": ["pygeoapi==0.21.0", "uvicorn[standard]==0.54.0", "psycopg2-binary==2.9.13", "GeoAlchemy2==0.20.0",
                 "starlette==1.10.0"],
}
# Preferred ports (BENCH_PORT and the three after it, else 8019-8022); the next free one when taken.
_BASE_PORT = int(os.environ.get("BENCH_PORT") or 8019)
PORTS = {"landcycle": _BASE_PORT, "tipg": _BASE_PORT + 1, "pygeoapi": _BASE_PORT + 2, "landcycle-ogc": _BASE_PORT + 3}
# The OGC API's largest page for `landcycle-ogc`: the peers are configured to serve the whole collection in
# one response (TIPG_MAX_FEATURES_PER_QUERY, pygeoapi's max_items), so the OGC stream case is one items
# request for every parcel as theirs is (OGC 17-069r4 /req/core/fc-limit-response lets the server choose).
OGC_MAX_LIMIT = 2_000_000


def _free_port(preferred: int) -> int:
    """`preferred`, or the next port (in steps past the other servers' ports) nobody listens on."""
    for port in range(preferred, preferred + 400, len(PORTS)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {preferred}")


def _python() -> str:
    for candidate in ("python3.11", "/usr/bin/python3.11", "python3"):
        found = shutil.which(candidate)
        if found:
            return found
    return sys.executable


def install(peer: str) -> Path:
    """`<BENCH_DIR>/<peer>-venv` with the pinned packages (once; a stamp file remembers the pins)."""
    venv = BENCH_DIR / f"{peer}-venv"
    stamp = venv / ".bench-pins"
    pins = " ".join(PINS[peer])
    if stamp.exists() and stamp.read_text() == pins:
        return venv
    say(f"installing {pins} into {venv} (log {venv.name}.log)")
    work_dir()
    if not (venv / "bin" / "python").exists():
        subprocess.run([_python(), "-m", "venv", str(venv)], check=True)
    log = BENCH_DIR / f"{venv.name}.log"
    with log.open("w") as out:
        subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", *PINS[peer]],
                       check=True, stdout=out, stderr=subprocess.STDOUT)
    stamp.write_text(pins)
    return venv


def version_of(venv: Path, package: str) -> str:
    """The installed version of a package in a virtualenv."""
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          f"import importlib.metadata as m; print(m.version({package!r}))"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 2000000}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OSM}}
logging:
  level: ERROR
metadata:
  identification: {{title: landcycle bench, description: bench, keywords: [bench], keywords_type: theme,
                   terms_of_service: none, url: 'http://127.0.0.1'}}
  license: {{name: none, url: 'http://127.0.0.1'}}
  provider: {{name: bench, url: 'http://127.0.0.1'}}
  contact: {{name: bench}}
resources:
  parcels:
    type: collection
    title: parcels
    description: current parcels (view bench.parcel_4326)
    keywords: [parcels]
    extents:
      spatial: {{bbox: [120.8, 30.6, 122.2, 31.9], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {host}, port: {db_port}, dbname: {dbname}, user: {user}, password: '{password}',
               search_path: [bench, public]}}
        id_field: id
        table: parcel_4326
        geom_field: geom
"""


@dataclass
class Server:
    """A started server process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    version: str
    log: Path
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Terminate the process tree we started (uvicorn's supervisor stops its workers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _start(name: str, cmd: list[str], env: dict[str, str], port: int, ready_path: str, version: str) -> Server:
    log = work_dir() / f"{name}.log"
    out = log.open("w")
    process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(name, port, process, version, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(server.base + ready_path, timeout=30).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within 90 s; see {log}")


def start(name: str, url: str, workers: int) -> Server:
    """Start one server on its port against the bench database."""
    port = _free_port(PORTS[name])
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("LANDCYCLE_", "TIPG_", "PYGEOAPI_"))}
    if name in ("landcycle", "landcycle-ogc"):
        env = {**base_env, "DATABASE_URL": url, "LANDCYCLE_PUBLIC_READ": "true", "LANDCYCLE_LOG_LEVEL": "warning"}
        cmd = [str(ROOT / ".venv" / "bin" / "landcycle"), "serve", "--port", str(port), "--workers", str(workers)]
        from importlib.metadata import version

        if name == "landcycle":
            server = _start(name, cmd, env, port, "/api/v1/parcels?limit=1", version("landcycle"))
            server.urls = {"stream": "/api/v1/parcels/export?f=geojson", "page": "/api/v1/parcels?limit={limit}",
                           "bbox": "/api/v1/parcels?bbox={bbox}&limit=1000", "id": "/api/v1/parcels/{id}"}
            return server
        # The same endpoints as the peers': /collections/{id}/items and /items/{id} (OGC 17-069r4 §7.15–7.16).
        items = "/ogc/collections/parcels/items"
        env["LANDCYCLE_MAX_LIMIT"] = str(OGC_MAX_LIMIT)
        server = _start(name, cmd, env, port, f"{items}?limit=1", version("landcycle"))
        server.urls = {"stream": f"{items}?limit={OGC_MAX_LIMIT}", "page": f"{items}?limit={{limit}}",
                       "bbox": f"{items}?bbox={{bbox}}&limit=1000", "id": f"{items}/{{id}}"}
        return server
    venv = install(name)
    uvicorn = [str(venv / "bin" / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--no-access-log", "--log-level", "warning"]
    if name == "tipg":
        env = {**base_env, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["bench"]', "TIPG_DB_TABLES": '["bench.parcel"]',
               "TIPG_MAX_FEATURES_PER_QUERY": "2000000", "TIPG_DB_MAX_CONN_SIZE": "16",
               "TIPG_DB_SPATIAL_EXTENT": "false", "TIPG_DB_DATETIME_EXTENT": "false"}
        server = _start(name, [*uvicorn, "tipg.main:app"], env, port, "/collections/bench.parcel",
                        version_of(venv, "tipg"))
        items, fmt = "/collections/bench.parcel/items", "geojson"
    else:
        target = make_url(url)
        config = work_dir() / "pygeoapi.yml"
        config.write_text(PYGEOAPI_CONFIG.format(port=port, host=target.host or "127.0.0.1",
                                                 db_port=target.port or 5432, dbname=target.database,
                                                 user=target.username, password=target.password or ""))
        openapi = BENCH_DIR / "pygeoapi-openapi.yml"
        env = {**base_env, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
        with openapi.open("w") as out:
            subprocess.run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config)], env=env,
                           check=True, stdout=out, stderr=subprocess.DEVNULL)
        server = _start(name, [*uvicorn, "pygeoapi.starlette_app:APP"], env, port, "/collections/parcels",
                        version_of(venv, "pygeoapi"))
        items, fmt = "/collections/parcels/items", "json"
    server.urls = {"stream": f"{items}?f={fmt}&limit=2000000", "page": f"{items}?f={fmt}&limit={{limit}}",
                   "bbox": f"{items}?f={fmt}&bbox={{bbox}}&limit=1000", "id": f"{items}/{{id}}?f={fmt}"}
    return server
