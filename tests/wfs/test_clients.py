"""Three real WFS clients nobody here wrote — GDAL's WFS driver, OWSLib and headless QGIS — against a real
server (SPEC §5 "OGC WFS": QGIS 3 must load, filter, page and edit the layers). Each skips with the reason
when its client is not installed."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from lxml import etree
from shapely.geometry import shape

from tests import qgis_session
from tests.builders import BZ, CZ
from tests.wfs.conftest import PAGE, LiveWfs

pytestmark = [pytest.mark.live, pytest.mark.slow]


def _all(live: LiveWfs, **params: Any) -> list[dict[str, Any]]:
    """Every current parcel through REST, page by page (the live server's limit is small)."""
    out: list[dict[str, Any]] = []
    while True:
        page = live.rest("/parcels", offset=len(out), **params)["features"]
        out += page
        if not page:
            return out


def _codes(live: LiveWfs, **params: Any) -> list[str]:
    return sorted(f["properties"]["code"] for f in _all(live, **params))


# ------------------------------------------------------------------------------------------ GDAL
def _gdal(live: LiveWfs, *args: str) -> str:
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL (Debian gdal-bin) is not installed")
    auth = [
        "--config",
        "GDAL_HTTP_USERPWD",
        f"{live.user}:{live.password}",
        "--config",
        "GDAL_HTTP_AUTH",
        "BASIC",
    ]
    done = subprocess.run([args[0], *auth, *args[1:]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_layers_and_counts_without_scanning(live_wfs):
    out = _gdal(
        live_wfs,
        "ogrinfo",
        "-ro",
        "-so",
        "-oo",
        "TRUST_CAPABILITIES_BOUNDS=YES",
        f"WFS:{live_wfs.url}",
        "landcycle:parcels",
    )
    assert f"Feature Count: {len(live_wfs.parcels)}" in out  # resultType=hits
    assert "Extent: (121.3" in out  # the capabilities' WGS84 bounds, lon first: no scan of the layer
    out = _gdal(live_wfs, "ogrinfo", "-ro", f"WFS:{live_wfs.url}")
    assert "landcycle:parcels" in out and "landcycle:zones" in out and "landcycle:districts" in out


def test_gdal_reads_every_parcel_in_pages_with_rest_geometry(live_wfs, tmp_path):
    target = tmp_path / "parcels.geojson"
    # GDAL 3.6 pages only when told to (PAGING_ALLOWED), by 100 unless PAGE_SIZE says otherwise; a page
    # larger than CountDefault would come back short and end its paging, so stay below it.
    _gdal(
        live_wfs,
        "ogr2ogr",
        "-f",
        "GeoJSON",
        "-lco",
        "RFC7946=YES",
        "-oo",
        "PAGING_ALLOWED=ON",
        "--config",
        "OGR_WFS_PAGE_SIZE",
        str(PAGE - 3),
        str(target),
        f"WFS:{live_wfs.url}",
        "landcycle:parcels",
    )
    got = json.loads(target.read_text())
    by_code = {f["properties"]["code"]: f for f in got["features"]}
    assert sorted(by_code) == _codes(live_wfs)  # > PAGE features: GDAL paged, nothing lost
    assert len(by_code) > PAGE
    for ref in live_wfs.parcels:
        mine = by_code[ref["properties"]["code"]]
        a, b = shape(mine["geometry"]), shape(ref["geometry"])
        assert a.bounds == pytest.approx(b.bounds, abs=1e-7) and a.symmetric_difference(b).area < 1e-12
        assert mine["properties"].get("tier") == ref["properties"]["tier"]


def test_gdal_attribute_and_spatial_filters(live_wfs):
    out = _gdal(
        live_wfs,
        "ogrinfo",
        "-ro",
        "-q",
        f"WFS:{live_wfs.url}",
        "landcycle:parcels",
        "-where",
        "land_use = 'office'",
        "-fields=YES",
    )
    assert out.count("OGRFeature(landcycle:parcels)") == 2
    x0, y0, x1, y1 = CZ
    out = _gdal(
        live_wfs,
        "ogrinfo",
        "-ro",
        "-q",
        "-oo",
        "PAGING_ALLOWED=ON",
        "--config",
        "OGR_WFS_PAGE_SIZE",
        str(PAGE - 3),
        f"WFS:{live_wfs.url}",
        "landcycle:parcels",
        "-spat",
        str(x0),
        str(y0),
        str(x1),
        str(y1),
    )
    assert out.count("OGRFeature(landcycle:parcels)") == 12


# ------------------------------------------------------------------------------------------ OWSLib
def _owslib(live: LiveWfs, version: str) -> Any:
    wfs_mod = pytest.importorskip("owslib.wfs", reason="OWSLib is not installed (pip install owslib)")
    return wfs_mod.WebFeatureService(
        live.url, version=version, username=live.user, password=live.password, timeout=60
    )


def _gml_codes(data: Any) -> list[str]:
    root = etree.parse(io.BytesIO(data.read())).getroot()
    return sorted(e.text for e in root.iter("{http://landcycle.example.org/wfs}code"))


def test_owslib_20_reads_capabilities_schema_and_features(live_wfs):
    wfs = _owslib(live_wfs, "2.0.0")
    assert set(wfs.contents) == {"landcycle:parcels", "landcycle:zones", "landcycle:districts",
                                 "landcycle:exit_candidates"}
    bbox = wfs.contents["landcycle:parcels"].boundingBoxWGS84
    assert 121.3 < bbox[0] < bbox[2] < 121.7
    schema = wfs.get_schema("landcycle:parcels")
    assert schema["properties"]["plot_ratio"] == "decimal"
    assert "MultiPolygon" in schema["geometry"]  # OWSLib's name for gml:MultiSurfacePropertyType
    assert _gml_codes(wfs.getfeature(typename="landcycle:parcels", maxfeatures=PAGE)) == sorted(
        p["properties"]["code"] for p in live_wfs.parcels[:PAGE]
    )
    # OWSLib flips the bbox for the URN CRS itself.
    east = wfs.getfeature(
        typename="landcycle:parcels", bbox=(BZ[0], BZ[1], BZ[2], BZ[3], "urn:ogc:def:crs:EPSG::4490")
    )
    assert _gml_codes(east) == _codes(live_wfs, tier="base")[:PAGE]


def test_owslib_filters_stored_query_and_version_110(live_wfs):
    from owslib.etree import etree as oetree
    from owslib.fes2 import PropertyIsEqualTo

    wfs = _owslib(live_wfs, "2.0.0")
    flt = oetree.tostring(PropertyIsEqualTo(propertyname="tier", literal="community").toXML()).decode()
    got = wfs.getfeature(
        typename="landcycle:parcels",
        filter=f'<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0">{flt}</fes:Filter>',
        method="Post",
    )
    assert _gml_codes(got) == _codes(live_wfs, tier="community")[:PAGE]  # one page of CountDefault
    pid = live_wfs.parcels[0]["id"]
    one = wfs.getfeature(
        storedQueryID="urn:ogc:def:query:OGC-WFS::GetFeatureById", storedQueryParams={"ID": f"parcels.{pid}"}
    )
    assert _gml_codes(one) == [live_wfs.parcels[0]["properties"]["code"]]
    wfs11 = _owslib(live_wfs, "1.1.0")
    assert "landcycle:zones" in wfs11.contents
    assert _gml_codes(wfs11.getfeature(typename=["landcycle:parcels"], maxfeatures=3)) == sorted(
        p["properties"]["code"] for p in live_wfs.parcels[:3]
    )


# ------------------------------------------------------------------------------------------ QGIS
@pytest.fixture(scope="module")
def qgis_run(live_wfs) -> dict[str, Any]:
    """One headless QGIS session: load, count, read, filter, edit, open the project."""
    project = httpx.get(
        live_wfs.url + "/project.qgs", auth=(live_wfs.user, live_wfs.password), timeout=30
    ).text
    lon, lat = 121.46, 31.22
    args = {
        "url": live_wfs.url,
        "user": live_wfs.user,
        "password": live_wfs.password,
        "project": project,
        "bbox": list(CZ),
        "insert_wkt": f"MultiPolygon((({lon} {lat}, {lon + 0.001} {lat}, {lon + 0.001} {lat + 0.001}, "
        f"{lon} {lat + 0.001}, {lon} {lat})))",
        "delete_code": live_wfs.parcels[-3]["properties"]["code"],
    }
    return qgis_session.run("tests.wfs.qgis_client", args)


def test_qgis_loads_every_layer_with_default_settings(qgis_run, live_wfs):
    for name in ("parcels", "zones", "districts"):
        assert qgis_run[name]["valid"], name
        assert qgis_run[name]["crs"] == "EPSG:4490"
    assert qgis_run["parcels"]["count"] == len(live_wfs.parcels)  # several pages of CountDefault
    assert qgis_run["zones"]["count"] == 2 and qgis_run["districts"]["count"] == 2
    assert "plot_ratio" in qgis_run["parcels"]["fields"] and "tier" in qgis_run["parcels"]["fields"]


def test_qgis_reads_attributes_and_geometry_in_the_right_place(qgis_run, live_wfs):
    seen = qgis_run["parcels"]["features"]
    assert sorted(seen) == sorted(p["properties"]["code"] for p in live_wfs.parcels)
    for ref in live_wfs.parcels:
        mine = seen[ref["properties"]["code"]]
        c = shape(ref["geometry"]).centroid
        assert mine["centroid"] == pytest.approx([c.x, c.y], abs=1e-6)  # lon/lat, not swapped
        assert mine["tier"] == ref["properties"]["tier"]


def test_qgis_expression_filter_and_bbox(qgis_run, live_wfs):
    expected = sorted(
        p["properties"]["code"]
        for p in live_wfs.parcels
        if p["properties"]["land_use"] == "office" or p["properties"]["plot_ratio"] > 1.45
    )
    assert qgis_run["expression"] == expected
    assert qgis_run["bbox"] == _codes(live_wfs, tier="community")


def test_qgis_commits_insert_update_delete_through_wfs_t(qgis_run, live_wfs):
    assert qgis_run["insert"][0], qgis_run["insert"][1]
    assert qgis_run["update"][0], qgis_run["update"][1]
    assert qgis_run["delete"][0], qgis_run["delete"][1]
    by_code = {f["properties"]["code"]: f["properties"] for f in _all(live_wfs)}
    assert by_code["QGIS-NEW"]["plot_ratio"] == 1.7
    assert by_code["QGIS-NEW"]["tier"] == "fragment" and by_code["QGIS-NEW"]["version"] == 2
    assert live_wfs.parcels[-3]["properties"]["code"] not in by_code


def test_qgis_rule_breaking_edit_fails_with_the_rule_and_leaves_the_database(qgis_run, live_wfs):
    ok, errors = qgis_run["refused"]
    assert not ok
    assert any("FAR_CAP_EXCEEDED: plot ratio 9.9 above cap 2.0" in e for e in errors), errors
    new = {f["properties"]["code"]: f["properties"] for f in _all(live_wfs)}
    assert new["QGIS-NEW"]["plot_ratio"] == 1.7


def test_qgis_opens_the_project_download_styled_by_tier(qgis_run):
    assert qgis_run["project_read"]
    layers = qgis_run["project_layers"]
    assert set(layers) == {"Parcels (by tier)", "Zones", "Districts"}
    parcels = layers["Parcels (by tier)"]
    assert parcels["provider"] == "WFS" and parcels["valid"]
    assert (parcels["renderer"], parcels["attr"]) == ("categorizedSymbol", "tier")
