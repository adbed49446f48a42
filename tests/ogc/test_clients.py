"""Three real OGC API – Features clients nobody here wrote against a real `landcycle serve` at /ogc: GDAL's
OAPIF driver (Debian's ogrinfo/ogr2ogr, and the newer GDAL pyogrio bundles for the Part 2 CRS open options),
OWSLib's ogcapi.features (reads, CQL2 filters, Part 4 writes and the rules refusing them) and headless QGIS's
OAPIF provider. The server pages by PAGE features, so every client must follow `next` links to see the city.
Each client's test skips with the reason when that client is not installed.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from shapely.geometry import shape

from tests import qgis_session
from tests.builders import CZ, PASSWORD, square
from tests.servers import CITY_PARCELS, LiveCity, seed_parcels, served_city

pytestmark = [pytest.mark.live, pytest.mark.slow]
PAGE = 10  # the live server's largest page (LANDCYCLE_MAX_LIMIT)
PORTS = range(19200, 19300)  # this suite's live servers
HERE = Path(__file__).parent
CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
CONF = {
    "core": "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "crs": "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "filter": "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "cql2-text": "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "cql2-json": "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "create-replace-delete": "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
}


class LiveOgc(LiveCity):
    """The served city (url: …/ogc)."""

    def codes(self, **props: Any) -> list[str]:
        """The codes of the parcels whose properties have these values."""
        return sorted(p["properties"]["code"] for p in self.parcels
                      if all(p["properties"].get(k) == v for k, v in props.items()))

    def rest_all(self, **params: Any) -> list[dict[str, Any]]:
        """Every current parcel through REST, page by page."""
        out: list[dict[str, Any]] = []
        while page := self.rest("/parcels", offset=len(out), **params)["features"]:
            out += page
        return out


SEEDED = len(CITY_PARCELS)


@pytest.fixture(scope="module")
async def live_ogc(engine: Any) -> AsyncIterator[LiveOgc]:
    """The seeded city (tests/servers.CITY_PARCELS) served for real on a port of this suite, pages of PAGE."""
    async with served_city(PORTS, LANDCYCLE_MAX_LIMIT=str(PAGE)) as base:
        yield LiveOgc(url=f"{base}/ogc", base=base, parcels=seed_parcels(base, "OGC"))


def _query(url: str) -> dict[str, str]:
    """A URL's query parameters, decoded (one value each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ------------------------------------------------------------------------------------- GDAL (Debian CLI)
def _ogr(live: LiveOgc, *args: str, credentials: bool = True, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """ogrinfo/ogr2ogr with GDAL's HTTP debug lines (`HTTP: Fetch(url)`) on stderr."""
    if shutil.which(args[0]) is None:
        pytest.skip("GDAL (Debian gdal-bin) is not installed")
    config = ["--config", "CPL_DEBUG", "ON", "--config", "GDAL_HTTP_MAX_RETRY", "0"]
    if credentials:
        config += ["--config", "GDAL_HTTP_USERPWD", f"{live.user}:{live.password}", "--config", "GDAL_HTTP_AUTH",
                   "BASIC"]
    done = subprocess.run([args[0], *config, *args[1:]], capture_output=True, text=True, timeout=120, check=False)
    if ok:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def _fetched(stderr: str) -> list[str]:
    return re.findall(r"HTTP: Fetch\((.*)\)", stderr)


def _layers(ogrinfo_so: str) -> dict[str, dict[str, str]]:
    """`ogrinfo -so -al`'s layers: name → {Geometry, Feature Count, field name → type}."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in ogrinfo_so.splitlines():
        if line.startswith("Layer name: "):
            current = out.setdefault(line.split(": ", 1)[1].strip(), {})
        elif ": " in line and not line.startswith(" "):
            key, _, value = line.partition(": ")
            current[key.strip()] = value.strip()
    return out


def test_gdal_ogrinfo_lists_the_layers_with_their_counts_and_fields(live_ogc):
    done = _ogr(live_ogc, "ogrinfo", "-ro", "-al", "-so", f"OAPIF:{live_ogc.url}")
    layers = _layers(done.stdout)
    assert set(layers) == {"parcels", "zones", "districts", "exit_candidates"}  # the bureau reads them all
    counts = {name: layers[name]["Feature Count"] for name in ("parcels", "zones", "districts")}
    assert counts == {"parcels": str(SEEDED), "zones": "2", "districts": "2"}  # numberMatched, no walk
    assert layers["parcels"]["Geometry"] == "Multi Polygon"
    assert layers["parcels"]["plot_ratio"].startswith("Real") and layers["parcels"]["land_use"].startswith("String")
    assert layers["parcels"]["Extent"].startswith("(121.3")  # the collection's CRS84 extent, lon first
    anonymous = _ogr(live_ogc, "ogrinfo", "-ro", "-so", f"OAPIF:{live_ogc.url}", credentials=False, ok=False)
    assert anonymous.returncode != 0 and "401" in anonymous.stderr  # no public read on this server


@pytest.mark.parametrize(("where", "cql", "matches"), [
    ("land_use = 'industrial'", "land_use = 'industrial'",
     lambda p: p["land_use"] == "industrial"),
    ("land_use = 'industrial' AND plot_ratio > 1.1", "(land_use = 'industrial') AND (plot_ratio > 1.1)",
     lambda p: p["land_use"] == "industrial" and p["plot_ratio"] > 1.1),
])
def test_gdal_ogr2ogr_pushes_its_where_to_the_server_as_a_cql_filter(live_ogc, tmp_path, where, cql, matches):
    target = tmp_path / "parcels.geojson"
    done = _ogr(live_ogc, "ogr2ogr", "-f", "GeoJSON", str(target), f"OAPIF:{live_ogc.url}", "parcels", "-where", where)
    got = sorted(f["properties"]["code"] for f in json.loads(target.read_text())["features"])
    want = sorted(p["properties"]["code"] for p in live_ogc.parcels if matches(p["properties"]))
    assert got == want and len(want) > PAGE  # several pages, nothing lost
    # The whole expression went to the server (19-079r2 filter; GDAL names CQL text by its draft name), so
    # only the matching features were sent: ⌈matches / PAGE⌉ filtered pages.
    assert "evaluated on client side" not in done.stderr
    filtered = [_query(u) for u in _fetched(done.stderr) if "/collections/parcels/items" in u and "filter=" in u]
    assert {q["filter"] for q in filtered} == {cql} and filtered[0]["filter-lang"] == "cql-text"
    assert len(filtered) == math.ceil(len(want) / PAGE)


# ------------------------------------------------------------------------------------- GDAL (pyogrio's)
def _pyogrio_gdal(live: LiveOgc, tmp_path: Path, **open_options: str) -> dict[str, Any]:
    """tests/ogc/gdal_client.py in a process of its own (the app's modules lock GDAL down in this one)."""
    probe = subprocess.run([sys.executable, "-c", "import pyogrio; assert 'OAPIF' in pyogrio.list_drivers()"],
                           capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip("pyogrio with GDAL's OAPIF driver is not installed")
    args = {"url": live.url, "userpwd": f"{live.user}:{live.password}", "layer": "parcels",
            "open_options": open_options, "log": str(tmp_path / "gdal.log")}
    done = subprocess.run([sys.executable, str(HERE / "gdal_client.py"), json.dumps(args)], capture_output=True,
                          text=True, timeout=300, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("GDAL-RESULT ")), None)
    assert line, f"rc={done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(line[len("GDAL-RESULT "):])
    return result


@pytest.mark.parametrize(("option", "epsg", "tolerance"), [
    ("CRS", 4549, 1e-3),  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: northing, easting in its EPSG order
    ("PREFERRED_CRS", 4490, 1e-7),  # the storage CRS, latitude first in its EPSG order
])
def test_gdal_reads_the_parcels_in_a_part_2_crs(live_ogc, tmp_path, option, epsg, tolerance):
    got = _pyogrio_gdal(live_ogc, tmp_path, **{option: f"EPSG:{epsg}"})
    assert got["crs"] == f"EPSG:{epsg}" and got["count"] == SEEDED
    items = [_query(u) for u in got["fetched"] if "/collections/parcels/items" in u and "crs=" in u]
    assert items and {q["crs"] for q in items} == {CRS_URI.format(epsg)}  # 18-058r1 crs, on every page
    # GDAL hands applications x/y (easting/northing, lon/lat) whatever the CRS's axis order: the server wrote
    # its coordinates in that CRS's EPSG order (Content-Crs), or they would come out swapped here.
    reference = {f["properties"]["code"]: shape(f["geometry"]).bounds for f in live_ogc.rest_all(crs=f"EPSG:{epsg}")}
    assert set(got["features"]) == set(reference)
    for code, bounds in got["features"].items():
        assert bounds == pytest.approx(reference[code], abs=tolerance), code


# ------------------------------------------------------------------------------------------------ OWSLib
@pytest.fixture
def owslib_api(live_ogc) -> Iterator[Any]:
    """OWSLib's Features client of /ogc as the bureau (HTTP Basic). OWSLib keeps its request headers in a
    module-level dict that its writes change (Content-Type) and other clients' headers stay in: restored after."""
    pytest.importorskip("owslib.ogcapi.features", reason="OWSLib is not installed (pip install owslib)")
    import owslib.ogcapi
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    saved = dict(owslib.ogcapi.REQUEST_HEADERS)
    owslib.ogcapi.REQUEST_HEADERS.clear()
    owslib.ogcapi.REQUEST_HEADERS.update({k: v for k, v in saved.items() if k == "User-Agent"})
    try:
        yield Features(live_ogc.url, auth=Authentication(live_ogc.user, live_ogc.password))
    finally:
        owslib.ogcapi.REQUEST_HEADERS.clear()
        owslib.ogcapi.REQUEST_HEADERS.update(saved)


def _codes(page: dict[str, Any]) -> list[str]:
    return sorted(f["properties"]["code"] for f in page["features"])


def _every(api: Any, **params: Any) -> list[str]:
    """Every matching feature's code, page after page."""
    out: list[str] = []
    while True:
        page = api.collection_items("parcels", offset=len(out), limit=PAGE, **params)
        if not page["features"]:
            return sorted(out)
        out += _codes(page)


def test_owslib_reads_collections_conformance_and_items(owslib_api, live_ogc):
    api = owslib_api
    assert api.feature_collections() == ["parcels", "zones", "districts", "exit_candidates"]
    assert set(CONF.values()) <= set(api.conformance()["conformsTo"])
    parcels = api.collection("parcels")
    assert parcels["storageCrs"] == CRS_URI.format(4490) and CRS_URI.format(4549) in parcels["crs"]
    first = api.collection_items("parcels", limit=5)
    assert (first["numberMatched"], first["numberReturned"]) == (SEEDED, 5)
    assert any(link["rel"] == "next" for link in first["links"])
    assert api.collection_items("parcels", limit=1000)["numberReturned"] == PAGE  # clamped to the maximum
    assert _every(api) == live_ogc.codes()
    community = api.collection_items("parcels", bbox=list(CZ), limit=PAGE)
    assert community["numberMatched"] == 12 and _every(api, bbox=list(CZ)) == live_ogc.codes(tier="community")
    one = live_ogc.parcels[3]
    got = api.collection_item("parcels", str(one["id"]))
    assert got["properties"]["code"] == one["properties"]["code"] and got["id"] == one["id"]
    queryables = api.collection_queryables("parcels")["properties"]
    assert {"land_use", "plot_ratio", "tier", "geometry"} <= set(queryables)


def test_owslib_filters_in_cql2_text_and_json(owslib_api, live_ogc):
    api = owslib_api
    text = {"filter": "land_use = 'office'", "filter-lang": "cql2-text"}
    assert _every(api, **text) == live_ogc.codes(land_use="office")
    both = {"op": "and", "args": [{"op": "=", "args": [{"property": "land_use"}, "industrial"]},
                                  {"op": ">", "args": [{"property": "plot_ratio"}, 1.3]}]}
    want = sorted(p["properties"]["code"] for p in live_ogc.parcels
                  if p["properties"]["land_use"] == "industrial" and p["properties"]["plot_ratio"] > 1.3)
    assert _every(api, filter=json.dumps(both), **{"filter-lang": "cql2-json"}) == want
    x0, y0, x1, y1 = CZ
    spatial = {"filter": f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))", "filter-lang": "cql2-text"}
    assert _every(api, **spatial) == live_ogc.codes(tier="community")
    with pytest.raises(RuntimeError) as refused:
        api.collection_items("parcels", filter="owner = 'me'", **{"filter-lang": "cql2-text"})
    problem = json.loads(str(refused.value))
    assert (problem["status"], problem["code"]) == (400, "VALIDATION_ERROR")  # not a queryable


def _parcel(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": square(lon, lat, 100), "properties": {"land_use": "industrial", **props}}


def test_owslib_creates_replaces_and_deletes_a_parcel(owslib_api, live_ogc):
    api = owslib_api
    lon, lat = 121.47, 31.15  # a fragment of the west district, clear of every seeded parcel
    assert api.collection_item_create("parcels", _parcel(lon, lat, code="OWSLIB-1", plot_ratio=1.3))
    fid = api.response_headers["Location"].rsplit("/items/", 1)[1]  # Part 4: 201 with Location
    try:
        made = api.collection_item("parcels", fid)["properties"]
        assert (made["code"], made["tier"], made["version"], made["plot_ratio"]) == ("OWSLIB-1", "fragment", 1, 1.3)
        assert api.collection_item_update("parcels", fid, _parcel(lon, lat, code="OWSLIB-1", land_use="rnd",
                                                                  plot_ratio=1.6))
        replaced = api.collection_item("parcels", fid)["properties"]
        assert (replaced["land_use"], replaced["plot_ratio"], replaced["version"]) == ("rnd", 1.6, 2)
        assert live_ogc.rest(f"/parcels/{fid}")["properties"]["plot_ratio"] == 1.6  # the same parcel for REST
    finally:
        assert api.collection_item_delete("parcels", fid)
    with pytest.raises(RuntimeError) as gone:
        api.collection_item("parcels", fid)
    assert json.loads(str(gone.value))["code"] == "NOT_FOUND"
    assert api.collection_items("parcels", limit=1)["numberMatched"] == SEEDED


def test_owslib_writes_refused_by_the_rules_leave_the_parcels(owslib_api, live_ogc):
    api = owslib_api
    seeded = live_ogc.parcels[0]  # in the base zone: the FAR cap applies
    lon, lat = seeded["geometry"]["coordinates"][0][0][0]

    def refusal(call: Any, *args: Any) -> tuple[int, str]:
        with pytest.raises(RuntimeError) as refused:
            call(*args)
        problem = json.loads(str(refused.value))
        return problem["status"], problem["code"]

    # Rule 6: a new parcel may not overlap a current one.
    overlap = _parcel(lon + 0.0003, lat + 0.0003, code="OWSLIB-OVERLAP")
    assert refusal(api.collection_item_create, "parcels", overlap) == (409, "PARCEL_OVERLAP")
    # Rule 3: the plot ratio may not exceed the cap (2.0 for industrial land).
    fid = str(seeded["id"])
    too_dense = {"type": "Feature", "geometry": seeded["geometry"],
                 "properties": {**{k: seeded["properties"][k] for k in ("code", "land_use")}, "plot_ratio": 9.9}}
    assert refusal(api.collection_item_update, "parcels", fid, too_dense) == (409, "FAR_CAP_EXCEEDED")
    # A viewer reads but does not write (SPEC §4).
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    viewer = Features(live_ogc.url, auth=Authentication("viewer", PASSWORD))
    assert refusal(viewer.collection_item_create, "parcels", _parcel(121.475, 31.15, code="OWSLIB-V")) == (
        403, "FORBIDDEN_ROLE")
    assert api.collection_items("parcels", limit=1)["numberMatched"] == SEEDED
    kept = api.collection_item("parcels", fid)["properties"]
    assert (kept["plot_ratio"], kept["version"]) == (seeded["properties"]["plot_ratio"], 1)


# ------------------------------------------------------------------------------------------------ QGIS
def _qgis_version(run: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", run["qgis"])[:2])


@pytest.fixture(scope="module")
def qgis_run(live_ogc) -> dict[str, Any]:
    """One headless QGIS session (tests/ogc/qgis_client.py): load, count, read, select, probe editing."""
    args = {"url": live_ogc.url, "user": live_ogc.user, "password": live_ogc.password, "bbox": list(CZ)}
    return qgis_session.run("tests.ogc.qgis_client", args)


def test_qgis_loads_every_layer_with_credentials_and_pages(qgis_run, live_ogc):
    for name, count in (("parcels", SEEDED), ("zones", 2), ("districts", 2)):
        layer = qgis_run[name]
        assert layer["valid"], name
        assert (layer["count"], len(layer["features"])) == (count, count), name
        assert layer["crs"] == "EPSG:4326", name  # CRS84 (lon/lat): Part 1's default
    assert {"code", "land_use", "plot_ratio", "tier"} <= set(qgis_run["parcels"]["fields"])
    pages = [_query(u) for u in qgis_run["urls"] if "/collections/parcels/items" in u and "after=" in u]
    assert len(pages) >= math.ceil(SEEDED / PAGE) - 1  # QGIS followed the next links
    assert not qgis_run["anonymous"]["valid"]  # no credentials, no layer (no public read on this server)


def test_qgis_reads_attributes_and_geometry_in_the_right_place(qgis_run, live_ogc):
    seen = qgis_run["parcels"]["features"]
    assert sorted(seen) == live_ogc.codes()
    for ref in live_ogc.parcels:
        mine = seen[ref["properties"]["code"]]
        c = shape(ref["geometry"]).centroid
        assert mine["centroid"] == pytest.approx([c.x, c.y], abs=1e-6)  # lon/lat, not swapped
        assert (mine["land_use"], mine["tier"]) == (ref["properties"]["land_use"], ref["properties"]["tier"])
        assert mine["plot_ratio"] == pytest.approx(ref["properties"]["plot_ratio"])


def test_qgis_extent_requests_go_to_the_server_and_expressions_select(qgis_run, live_ogc):
    assert qgis_run["bbox"] == live_ogc.codes(tier="community")
    # The layer's first request is one page to learn its fields; the features come with 17-069r4's bbox.
    _, *boxed = [_query(u) for u in qgis_run["bbox_urls"] if "/collections/parcels/items" in u]
    assert boxed and all("bbox" in q for q in boxed)
    x0, y0, x1, y1 = (float(v) for v in boxed[0]["bbox"].split(","))
    assert (x0, y0, x1, y1) == pytest.approx(CZ)
    expected = sorted(p["properties"]["code"] for p in live_ogc.parcels
                      if p["properties"]["land_use"] == "office" or p["properties"]["plot_ratio"] > 1.45)
    assert qgis_run["expression"] == expected


def test_qgis_edits_only_where_its_oapif_provider_speaks_part_4(qgis_run):
    caps = qgis_run["capabilities"]
    if _qgis_version(qgis_run) < (3, 32):
        # Debian 12's QGIS 3.22: its OAPIF provider is read-only (OGC API – Features Part 4 editing came
        # with QGIS 3.32); it neither probes OPTIONS nor offers editing, and edits go through /wfs (WFS-T).
        assert not any(caps.values()) and not qgis_run["editable"]
    else:
        # Newer QGIS enables editing from the Allow header of OPTIONS on items (POST, PUT, PATCH, DELETE).
        assert all(caps.values()) and qgis_run["editable"]
