"""WFS benchmark: Landcycle vs MapServer 8 (CGI) vs QGIS Server 3.22 on the same parcel table.

    [BENCH_DATABASE_URL=…] python -m bench.wfs [--rounds 3] [--seconds 8] [--clients 8] [--peers mapserver,qgis]

Needs the 100,000-parcel demo (`landcycle demo load --parcels 100000`) and Debian's `cgi-mapserver` and
`qgis-server` (each peer is skipped, and said so, when missing). Every server reads the current rows of
the `parcel` table (valid_to IS NULL) with the same properties. Measured, in interleaved rounds (servers
in rotating order, medians reported):

- full GetFeature of every parcel as GML (2.0/GML 3.2 where the server speaks it; 1.1/GML 3.1.1 and 1.0/GML 2
  for all) and as GeoJSON, time to the last byte, with Landcycle's peak RSS (flat-memory check);
- "PostGIS alone": the same geometry text produced by psql COPY … TO /dev/null (no HTTP, no server);
- 2 km BBOX GetFeature throughput (WFS 1.1.0, GML 3.1.1, lon/lat boxes) with N concurrent clients.

MapServer runs as a CGI process per request (spawned directly, no web server in front: this favours it).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

from bench.database import BENCH_DIR, demo_url, work_dir

WORK = BENCH_DIR / "wfs"
USER, PASSWORD = "bureau", "landcycle"
COLUMNS = (
    "id, code, land_use, plot_ratio, plot_ratio_reference_id, legacy_zone, status, district_code, tier, "
    "zone_id, planning_locked, area_m2, plot_ratio_cap, plot_ratio_cap_source, version, valid_from"
)


def _db() -> dict[str, str]:
    url = urlsplit(demo_url().replace("+asyncpg", ""))
    return {
        "host": url.hostname or "127.0.0.1",
        "port": str(url.port or 5432),
        "dbname": url.path.lstrip("/"),
        "user": url.username or "landcycle",
        "password": url.password or "",
    }


def _psql_command(db: dict[str, str], sql: str, *flags: str) -> tuple[list[str], dict[str, str]]:
    """psql on the bench database running `sql`: the command line and its environment."""
    command = ["psql", "-X", *flags, "-h", db["host"], "-p", db["port"], "-U", db["user"], "-d", db["dbname"],
               "-c", sql]
    return command, {**os.environ, "PGPASSWORD": db["password"]}


def _psql(db: dict[str, str], sql: str) -> str:
    command, env = _psql_command(db, sql, "-qAt")
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.strip()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{url}: no answer")


# ------------------------------------------------------------------------------------------ servers
@dataclass
class Server:
    """One WFS under test: how to fetch a KVP request from it."""

    name: str
    version: str
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""
    auth: tuple[str, str] | None = None
    fixed: dict[str, str] = field(default_factory=dict)
    cgi_env: dict[str, str] | None = None
    bbox_suffix: str = ",EPSG:4490"
    _local: threading.local = field(default_factory=threading.local)

    def fetch(self, params: dict[str, str]) -> tuple[int, int]:
        """(status, bytes) of one GET, body read to the end."""
        query = urlencode({**self.fixed, **params})
        if self.cgi_env is not None:
            env = {**self.cgi_env, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}
            out = subprocess.run(["mapserv"], env=env, capture_output=True, check=False).stdout
            return (200 if b"Exception" not in out[:2000] else 500), len(out)
        headers = {}
        if self.auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
        for attempt in (1, 2):  # a kept-alive connection the server closed while idle: reconnect once
            conn = self._conn()
            try:
                conn.request("GET", f"{urlsplit(self.base).path}?{query}", headers=headers)
                resp = conn.getresponse()
                size = 0
                while chunk := resp.read(1 << 20):
                    size += len(chunk)
                return resp.status, size
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _conn(self) -> http.client.HTTPConnection:
        """One keep-alive connection per client thread (the clients are not what is measured)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            url = urlsplit(self.base)
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=600)
            self._local.conn = conn
        return conn

    def rss_peak_mb(self) -> float | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def rss_mb(self) -> float | None:
        if self.proc is None:
            return None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_landcycle(env: dict[str, str]) -> Server:
    port = _port()
    exe = Path(sys.executable).parent / "landcycle"
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "LANDCYCLE_MAX_LIMIT": "200000", "LANDCYCLE_LOG_LEVEL": "warning"},
    )
    _wait(f"http://127.0.0.1:{port}/healthz", proc)
    return Server("Landcycle", "", proc, f"http://127.0.0.1:{port}/wfs", (USER, PASSWORD), {"SERVICE": "WFS"})


def start_mapserver(db: dict[str, str]) -> Server | None:
    if shutil.which("mapserv") is None:
        print("MapServer (cgi-mapserver) not installed: skipped", file=sys.stderr)
        return None
    mapfile = WORK / "parcels.map"
    conn = f"host={db['host']} port={db['port']} dbname={db['dbname']} user={db['user']}"
    if db["password"]:
        conn += f" password={db['password']}"
    data = f"geom from (select {COLUMNS}, geom from parcel where valid_to is null) as p using unique id using srid=4490"  # noqa: S608
    mapfile.write_text(f"""MAP
  NAME "landcycle"
  EXTENT 120.8 30.6 122.2 31.9
  PROJECTION "init=epsg:4490" END
  OUTPUTFORMAT NAME "geojson" DRIVER "OGR/GEOJSON" MIMETYPE "application/json"
    FORMATOPTION "STORAGE=stream" FORMATOPTION "FORM=SIMPLE" END
  WEB METADATA
    "wfs_title" "landcycle" "wfs_onlineresource" "http://127.0.0.1/mapserv?map={mapfile}"
    "wfs_srs" "EPSG:4490" "wfs_enable_request" "*" "wfs_getfeature_formatlist" "geojson"
  END END
  LAYER
    NAME "parcels" TYPE POLYGON STATUS ON
    CONNECTIONTYPE POSTGIS CONNECTION "{conn}"
    DATA "{data}"
    PROJECTION "init=epsg:4490" END
    METADATA "wfs_title" "parcels" "wfs_srs" "EPSG:4490" "gml_include_items" "all" "gml_featureid" "id"
      "wfs_enable_request" "*" "gml_types" "auto" END
  END
END
""")
    config = WORK / "mapserver.conf"
    config.write_text('CONFIG\n  ENV\n    MS_MAP_PATTERN "."\n  END\nEND\n')
    env = {"PATH": os.environ.get("PATH", ""), "MAPSERVER_CONFIG_FILE": str(config)}
    # MapServer 8 reads "…,EPSG:4490" in WFS 1.1 as lat/lon; without a CRS the box is lon/lat.
    return Server(
        "MapServer 8 (CGI)", "", None, "", None, {"map": str(mapfile), "SERVICE": "WFS"}, env, bbox_suffix=""
    )


QGIS_PROJECT = r"""
import os, sys
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer, QgsDataSourceUri
app = QgsApplication([], False); app.initQgis()
db = dict(a.split("=", 1) for a in sys.argv[2:])
uri = QgsDataSourceUri()
uri.setConnection(db["host"], db["port"], db["dbname"], db["user"], db["password"])
uri.setDataSource("public", "parcel", "geom", "valid_to IS NULL", "id")
uri.setSrid("4490"); uri.setWkbType(6)
layer = QgsVectorLayer(uri.uri(False), "parcels", "postgres")
assert layer.isValid(), "postgres layer invalid"
p = QgsProject.instance(); p.addMapLayer(layer)
p.writeEntry("WFSLayers", "/", [layer.id()])
p.writeEntry("WFSLayersPrecision", "/" + layer.id(), 7)
p.writeEntry("WMSServiceCapabilities", "/", True)
p.writeEntry("WMSCrsList", "/", ["EPSG:4490"])
p.write(sys.argv[1])
app.exitQgis(); os._exit(0)
"""


def start_qgis_server(db: dict[str, str]) -> Server | None:
    if shutil.which("qgis_mapserver") is None:
        print("QGIS Server (qgis-server) not installed: skipped", file=sys.stderr)
        return None
    project = WORK / "parcels.qgs"
    script = WORK / "make_project.py"
    script.write_text(QGIS_PROJECT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    subprocess.run(
        ["/usr/bin/python3", str(script), str(project), *(f"{k}={v}" for k, v in db.items())],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _port()
    proc = subprocess.Popen(
        ["qgis_mapserver", "-l", "2", "-p", str(project), f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(f"http://127.0.0.1:{port}/?SERVICE=WFS&REQUEST=GetCapabilities", proc)
    return Server("QGIS Server 3.22", "", proc, f"http://127.0.0.1:{port}/", None, {"SERVICE": "WFS"})


# ------------------------------------------------------------------------------------------ requests
def _get_feature(version: str, type_name: str, output_format: str | None = None) -> dict[str, str]:
    """A KVP GetFeature of a whole layer: TYPENAMES in WFS 2.0, TYPENAME in 1.x; OUTPUTFORMAT when given."""
    names = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    params = {"VERSION": version, "REQUEST": "GetFeature", names: type_name}
    if output_format is not None:
        params["OUTPUTFORMAT"] = output_format
    return params


def full_requests(server: Server) -> dict[str, dict[str, str]]:
    """The full-layer requests each server is asked, by label."""
    if server.name.startswith("Landcycle"):
        name = "landcycle:parcels"
        return {"GML 3.2 (2.0)": _get_feature("2.0.0", name), "GML 3.1.1 (1.1)": _get_feature("1.1.0", name),
                "GML 2 (1.0)": _get_feature("1.0.0", name), "GeoJSON": _get_feature("2.0.0", name, "application/json")}
    if server.name.startswith("MapServer"):
        return {"GML 3.2 (2.0)": _get_feature("2.0.0", "parcels"), "GML 3.1.1 (1.1)": _get_feature("1.1.0", "parcels"),
                "GML 2 (1.0)": _get_feature("1.0.0", "parcels"), "GeoJSON": _get_feature("1.1.0", "parcels", "geojson")}
    return {  # QGIS Server 3.22 speaks WFS 1.0/1.1
        "GML 3.1.1 (1.1)": _get_feature("1.1.0", "parcels", "GML3"),
        "GML 2 (1.0)": _get_feature("1.0.0", "parcels", "GML2"),
        "GeoJSON": _get_feature("1.1.0", "parcels", "application/vnd.geo+json"),
    }


def bbox_request(server: Server, box: tuple[float, float, float, float]) -> dict[str, str]:
    """A WFS 1.1.0 GML 3.1.1 GetFeature of a lon/lat box, written the way each server reads lon/lat."""
    name = "landcycle:parcels" if server.name.startswith("Landcycle") else "parcels"
    params = {**_get_feature("1.1.0", name), "BBOX": ",".join(f"{v:.6f}" for v in box) + server.bbox_suffix}
    if server.name.startswith("QGIS"):
        params["OUTPUTFORMAT"] = "GML3"
    return params


def _members(server: Server, box: tuple[float, float, float, float]) -> int:
    """How many features a server returns for a box (GML featureMember elements)."""
    query = urlencode({**server.fixed, **bbox_request(server, box)})
    if server.cgi_env is not None:
        body = subprocess.run(
            ["mapserv"],
            env={**server.cgi_env, "QUERY_STRING": query, "REQUEST_METHOD": "GET"},
            capture_output=True,
            check=False,
        ).stdout
    else:
        body = httpx.get(f"{server.base}?{query}", auth=server.auth, timeout=120).content
    return body.count(b"featureMember>") // 2


def postgis_alone(db: dict[str, str]) -> dict[str, float]:
    """The same text from PostGIS straight to /dev/null (psql COPY), seconds."""
    out = {}
    for label, expr in (
        ("GML 3.2", "ST_AsGML(3, geom, 7, 17, 'gml', 'p.' || id)"),
        ("GML 2", "ST_AsGML(2, geom, 7)"),
        ("GeoJSON", "ST_AsGeoJSON(geom, 7)"),
    ):
        sql = f"COPY (SELECT {COLUMNS}, {expr} FROM parcel WHERE valid_to IS NULL ORDER BY id) TO STDOUT"  # noqa: S608
        command, env = _psql_command(db, sql, "-q")
        t = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            subprocess.run(command, stdout=sink, env=env, check=True)
        out[label] = time.perf_counter() - t
    return out


def throughput(
    server: Server, boxes: list[tuple[float, float, float, float]], seconds: float, clients: int
) -> tuple[float, float]:
    """(requests/s, mean bytes) of random 2 km boxes from `clients` threads for `seconds`."""
    done: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        while time.monotonic() < stop:
            status, size = server.fetch(bbox_request(server, rnd.choice(boxes)))
            if status == 200:
                with lock:
                    done.append(size)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return len(done) / elapsed, (statistics.mean(done) if done else 0.0)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown report."""
    parser = argparse.ArgumentParser(prog="python -m bench.wfs", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--peers", default="mapserver,qgis",
                        help="peer servers to start, comma separated (mapserver, qgis; empty: Landcycle and "
                        "PostGIS alone only)")
    args = parser.parse_args(argv)
    work_dir("wfs")
    db = _db()
    n = int(_psql(db, "SELECT count(*) FROM parcel WHERE valid_to IS NULL"))
    if n < 100_000:
        print(f"only {n:,} parcels: run `landcycle demo load --parcels 100000` first", file=sys.stderr)
    rnd = random.Random(2018)
    dx, dy = 2000 / 95_300, 2000 / 110_900
    centres = _psql(
        db,
        "SELECT ST_X(ST_Centroid(geom)) || ' ' || ST_Y(ST_Centroid(geom)) FROM parcel "
        "WHERE valid_to IS NULL ORDER BY md5(id::text) LIMIT 500",
    ).split("\n")
    boxes = []
    for c in centres:  # boxes centred on parcels: where people look
        cx, cy = (float(v) for v in c.split())
        boxes.append((cx - dx / 2, cy - dy / 2, cx + dx / 2, cy + dy / 2))
    rnd.shuffle(boxes)
    env = {**os.environ, "DATABASE_URL": demo_url()}
    peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    servers = [s for s in (start_landcycle(env), start_mapserver(db) if "mapserver" in peers else None,
                           start_qgis_server(db) if "qgis" in peers else None) if s is not None]
    try:
        for server in servers:  # same boxes, same features: check before timing anything
            counts = [_members(server, box) for box in boxes[:3]]
            print(f"{server.name:18} features in the first 3 boxes: {counts}", file=sys.stderr, flush=True)
        times: dict[tuple[str, str], list[float]] = {}
        sizes: dict[tuple[str, str], int] = {}
        baseline = servers[0].rss_mb()
        pg: dict[str, list[float]] = {}
        rates: dict[str, list[float]] = {}
        mean_bytes: dict[str, list[float]] = {}
        for r in range(args.rounds):
            order = servers[r % len(servers) :] + servers[: r % len(servers)]
            for label, secs in postgis_alone(db).items():
                pg.setdefault(label, []).append(secs)
            for server in order:
                for label, params in full_requests(server).items():
                    t = time.perf_counter()
                    status, size = server.fetch(params)
                    elapsed = time.perf_counter() - t
                    print(
                        f"round {r + 1}: {server.name:18} {label:16} {elapsed:7.2f} s {size / 1e6:7.1f} MB "
                        f"HTTP {status}",
                        file=sys.stderr,
                        flush=True,
                    )
                    times.setdefault((server.name, label), []).append(elapsed)
                    sizes[(server.name, label)] = size
            for server in order:
                rate, avg = throughput(server, boxes, args.seconds, args.clients)
                print(
                    f"round {r + 1}: {server.name:18} 2 km bbox {rate:7.1f} req/s ({avg / 1e3:.0f} kB)",
                    file=sys.stderr,
                    flush=True,
                )
                rates.setdefault(server.name, []).append(rate)
                mean_bytes.setdefault(server.name, []).append(avg)
        peak = servers[0].rss_peak_mb()
        print(report(servers, times, sizes, pg, rates, mean_bytes, baseline, peak, n, args))
    finally:
        for s in servers:
            s.stop()
    return 0


LABELS = ("GML 3.2 (2.0)", "GML 3.1.1 (1.1)", "GML 2 (1.0)", "GeoJSON")


def _baseline(label: str) -> str:
    """The PostGIS-alone measurement a row is compared with (GML 3.1.1 with the GML 3 one, as before)."""
    return "GeoJSON" if label == "GeoJSON" else "GML 2" if label.startswith("GML 2") else "GML 3.2"


def report(
    servers: list[Server],
    times: dict[tuple[str, str], list[float]],
    sizes: dict[tuple[str, str], int],
    pg: dict[str, list[float]],
    rates: dict[str, list[float]],
    mean_bytes: dict[str, list[float]],
    baseline: float | None,
    peak: float | None,
    n: int,
    args: argparse.Namespace,
) -> str:
    """Medians as Markdown, with ratios to Landcycle and to PostGIS alone."""
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        f"{n:,} parcels; {args.rounds} interleaved rounds; medians.",
        "",
        "| full GetFeature | " + " | ".join(s.name for s in servers) + " | PostGIS alone |",
        "|---|" + "---|" * (len(servers) + 1),
    ]
    for label in LABELS:
        cells = []
        for s in servers:
            v = med.get((s.name, label))
            cells.append("–" if v is None else f"{v:.2f} s ({sizes[(s.name, label)] / 1e6:.0f} MB)")
        pg_key = _baseline(label)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {statistics.median(pg[pg_key]):.2f} s |")
    lines += [
        "",
        "| ratio (time ÷ Landcycle's) | "
        + " | ".join(s.name for s in servers[1:])
        + " | Landcycle ÷ PostGIS |",
        "|---|" + "---|" * len(servers),
    ]
    for label in LABELS:
        mine = med.get((servers[0].name, label))
        cells = [
            ("–" if med.get((s.name, label)) is None or not mine else f"{med[(s.name, label)] / mine:.1f}×")
            for s in servers[1:]
        ]
        pg_key = _baseline(label)
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | {mine / statistics.median(pg[pg_key]):.1f}× |"
        )
    lines += [
        "",
        f"| 2 km BBOX, {args.clients} clients, WFS 1.1 GML 3.1.1 | req/s | mean response |",
        "|---|---|---|",
    ]
    for s in servers:
        lines.append(
            f"| {s.name} | {statistics.median(rates[s.name]):.1f} | "
            f"{statistics.median(mean_bytes[s.name]) / 1e3:.0f} kB |"
        )
    if baseline is not None and peak is not None:
        lines += [
            "",
            f"Landcycle server RSS: {baseline:.0f} MB at start, peak {peak:.0f} MB over every request above.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
