"""Rule 3 re-checked on what depends on a write: a zone's cap and minimum bind the parcels in it, a reference
parcel holds up the ratios of the parcels that name it. REST, WFS-T and the zones import refuse alike,
change nothing (versions, history) and audit the refused attempt, on the zone and on each parcel."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import MultiPolygon, box

from app.imports.service import ImportOptions, run_import
from tests.builders import CZ, M_LON, basic, create_parcel, feature, square
from tests.imports.files import BUREAU as IMPORTER
from tests.imports.files import write
from tests.wfs.helpers import exception, post

API = "/api/v1"
BUREAU = basic("bureau")
OVERRIDE = {"decision_ref": "沪规划资源〔2026〕12号", "reason": "zone plan revised"}
WFS11 = ('xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc" '
         'xmlns:gml="http://www.opengis.net/gml" xmlns:landcycle="http://landcycle.example.org/wfs"')
FRAGMENT = (121.64, 31.15)  # east district, in no zone


def rect(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


async def _props(client, kind, fid):
    r = await client.get(f"{API}/{kind}/{fid}", headers=BUREAU)
    assert r.status_code == 200, r.text
    return r.json()["properties"]


async def _versions(client, kind, fid):
    return len((await client.get(f"{API}/{kind}/{fid}/history", headers=BUREAU)).json()["features"])


async def _audit(client, entity, fid):
    r = await client.get(f"{API}/audit", params={"entity": entity, "entity_id": fid}, headers=BUREAU)
    return r.json()["items"]


async def _in_community(client, code, ratio, dx=0.0):
    return await create_parcel(client, square(CZ[0] + 0.01 + dx, CZ[1] + 0.01), code=code, plot_ratio=ratio)


# ------------------------------------------------------------------------------------------ zones
async def test_lowering_a_zones_cap_below_its_parcels_is_refused_listing_them(client, city):
    high = await _in_community(client, "ZC-1", 1.8)
    other = await _in_community(client, "ZC-2", 1.7, dx=0.003)
    await _in_community(client, "ZC-3", 1.2, dx=0.006)
    url = f"{API}/zones/{city.community_zone_id}"
    r = await client.patch(url, json={"properties": {"far_cap": 1.6}}, headers=BUREAU)
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["code"], body["zone_id"], body["count"]) == ("FAR_CAP_EXCEEDED", city.community_zone_id, 2)
    assert body["parcel_ids"] == [high["id"], other["id"]]
    assert [(d["code"], d["plot_ratio"]) for d in body["dependants"]] == [("ZC-1", 1.8), ("ZC-2", 1.7)]
    assert "parcel {} (ZC-1)".format(high["id"]) in body["detail"] and "above cap 1.6 of zone CZ" in body["detail"]
    # Nothing changed: the zone's and the parcel's versions, caps and histories.
    zone = await _props(client, "zones", city.community_zone_id)
    assert (zone["version"], zone["far_cap"]) == (1, None)
    assert await _versions(client, "zones", city.community_zone_id) == 1
    parcel = await _props(client, "parcels", high["id"])
    assert (parcel["version"], parcel["plot_ratio_cap"], parcel["plot_ratio_cap_source"]) == (1, 2.0, "default")
    assert await _versions(client, "parcels", high["id"]) == 1
    # The refused attempt is audited on the zone and on each parcel it would have left above the cap.
    refused = (await _audit(client, "zone", city.community_zone_id))[0]
    assert (refused["outcome"], refused["code"], refused["after"]["far_cap"]) == ("refused", "FAR_CAP_EXCEEDED", 1.6)
    for pid in (high["id"], other["id"]):
        row = (await _audit(client, "parcel", pid))[0]
        assert (row["outcome"], row["code"], row["action"]) == ("refused", "FAR_CAP_EXCEEDED", "update")
        assert row["detail"]["refused"] == {"entity": "zone", "id": city.community_zone_id, "action": "update"}


async def test_a_cap_equal_to_the_highest_ratio_is_accepted(client, city):
    await _in_community(client, "ZE-1", 1.8)
    r = await client.patch(f"{API}/zones/{city.community_zone_id}", json={"properties": {"far_cap": 1.8}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["far_cap"] == 1.8


async def test_raising_a_zones_minimum_above_its_parcels_is_refused_as_a_validation_error(client, city):
    low = await _in_community(client, "ZM-1", 1.2)
    r = await client.patch(f"{API}/zones/{city.community_zone_id}", json={"properties": {"far_min": 1.5}},
                           headers=BUREAU)
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["parcel_ids"], body["count"]) == ("VALIDATION_ERROR", [low["id"]], 1)
    assert "below the minimum 1.5 of zone CZ" in body["dependants"][0]["why"]
    assert (await _props(client, "zones", city.community_zone_id))["far_min"] is None
    assert (await _audit(client, "parcel", low["id"]))[0]["code"] == "VALIDATION_ERROR"


async def test_a_bureau_override_lowers_the_cap_and_is_audited_on_each_parcel(client, city):
    high = await _in_community(client, "ZO-1", 1.8)
    r = await client.patch(f"{API}/zones/{city.community_zone_id}",
                           json={"properties": {"far_cap": 1.6}, "override": OVERRIDE}, headers=BUREAU)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["version"] == 2
    zone_rows = await _audit(client, "zone", city.community_zone_id)
    override = next(a for a in zone_rows if a["action"] == "override")
    assert (override["outcome"], override["code"]) == ("overridden", "FAR_CAP_EXCEEDED")
    assert override["detail"]["decision_ref"] == OVERRIDE["decision_ref"]
    assert [b["id"] for b in override["detail"]["breaches"]] == [high["id"]]
    parcel_rows = await _audit(client, "parcel", high["id"])
    assert any(a["action"] == "override" and a["outcome"] == "overridden" for a in parcel_rows)


async def test_a_new_zone_with_a_cap_below_the_parcels_it_covers_is_refused(client, city):
    made = await create_parcel(client, square(*FRAGMENT), code="ZN-1", plot_ratio=1.9)
    r = await client.post(f"{API}/zones", json=feature(rect(121.63, 31.14, 121.66, 31.17), code="NEWC",
                                                       name="New community", kind="community", far_cap=1.5),
                          headers=BUREAU)
    assert r.status_code == 409, r.text
    assert (r.json()["code"], r.json()["parcel_ids"]) == ("FAR_CAP_EXCEEDED", [made["id"]])
    listed = (await client.get(f"{API}/zones", headers=BUREAU)).json()
    assert "NEWC" not in [f["properties"]["code"] for f in listed["features"]]
    parcel = await _props(client, "parcels", made["id"])
    assert (parcel["tier"], parcel["version"]) == ("fragment", 1)


async def test_retiring_a_zone_that_drops_parcels_into_a_stricter_one_is_refused(client, city):
    made = await _in_community(client, "ZR-1", 1.8)
    # A second community over the same parcel with a lower cap: the parcel stays in CZ (lower id), so the
    # new zone binds nothing yet; retiring CZ would put the parcel under the 1.5 cap.
    r = await client.post(f"{API}/zones", json=feature(rect(CZ[0], CZ[1], CZ[0] + 0.02, CZ[1] + 0.02),
                                                       code="STRICT", name="Strict", kind="community",
                                                       far_cap=1.5), headers=BUREAU)
    assert r.status_code == 201, r.text
    assert (await _props(client, "parcels", made["id"]))["zone_id"] == city.community_zone_id
    r = await client.delete(f"{API}/zones/{city.community_zone_id}", headers=BUREAU)
    assert r.status_code == 409, r.text
    assert (r.json()["code"], r.json()["parcel_ids"]) == ("FAR_CAP_EXCEEDED", [made["id"]])
    assert (await _props(client, "zones", city.community_zone_id))["version"] == 1
    assert (await _audit(client, "zone", city.community_zone_id))[0]["action"] == "delete"


async def test_wfs_update_of_a_zones_cap_is_refused_and_rolled_back(client, city):
    high = await _in_community(client, "ZW-1", 1.8)
    body = (f'<wfs:Transaction service="WFS" version="1.1.0" {WFS11}><wfs:Update typeName="landcycle:zones">'
            "<wfs:Property><wfs:Name>far_cap</wfs:Name><wfs:Value>1.5</wfs:Value></wfs:Property>"
            f'<ogc:Filter><ogc:FeatureId fid="zones.{city.community_zone_id}"/></ogc:Filter></wfs:Update>'
            "</wfs:Transaction>")
    r = await post(client, body)
    assert r.status_code == 200
    assert exception(r)[2].startswith("FAR_CAP_EXCEEDED: the change of zone CZ would leave parcel")
    assert (await _props(client, "zones", city.community_zone_id))["version"] == 1
    assert (await _audit(client, "parcel", high["id"]))[0]["outcome"] == "refused"


async def test_zones_import_refuses_a_zone_whose_cap_its_parcels_exceed(client, db, settings, city, tmp_path: Path):
    made = await create_parcel(client, square(*FRAGMENT), code="ZI-1", plot_ratio=1.9)
    gdf = gpd.GeoDataFrame([{"code": "IMP-C", "name": "Imported", "kind": "community",
                             "advanced_manufacturing": "no", "far_cap": 1.5}],
                           geometry=[MultiPolygon([box(121.63, 31.14, 121.66, 31.17)])], crs="EPSG:4490")
    path = write(gdf, tmp_path / "zones.gpkg", layer="zones")
    outcome = await run_import(db, settings, IMPORTER, path, ImportOptions(kind="zones"))
    assert [(r.row, r.code) for r in outcome.refused] == [(1, "FAR_CAP_EXCEEDED")]
    assert not outcome.committed
    assert (await _props(client, "parcels", made["id"]))["tier"] == "fragment"


# ------------------------------------------------------------------------------------------ references
async def _reference_pair(client, ref_ratio=3.0, dependant_ratio=2.5):
    """An office parcel ~500 m east of a fragment whose plot ratio above 2.0 rests on it."""
    ref = await create_parcel(client, square(FRAGMENT[0] + 500 * M_LON, FRAGMENT[1]), code="REF-1",
                              land_use="office", plot_ratio=ref_ratio)
    dep = await create_parcel(client, square(*FRAGMENT), code="DEP-1", plot_ratio=dependant_ratio,
                              plot_ratio_reference_id=ref["id"])
    assert (dep["properties"]["plot_ratio_cap_source"], dep["properties"]["plot_ratio_reference_id"]) == (
        "reference", ref["id"])
    return ref, dep


async def _assert_refused_unchanged(client, r, ref, dep, action="update"):
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["code"], body["reference_id"], body["parcel_ids"]) == ("FAR_CAP_EXCEEDED", ref["id"], [dep["id"]])
    assert body["dependants"][0]["code"] == "DEP-1" and body["dependants"][0]["plot_ratio"] == 2.5
    now = await _props(client, "parcels", ref["id"])
    assert (now["version"], now["land_use"], now["plot_ratio"]) == (1, "office", 3.0)
    assert await _versions(client, "parcels", ref["id"]) == 1
    audit = (await _audit(client, "parcel", ref["id"]))[0]
    assert (audit["outcome"], audit["code"], audit["action"]) == ("refused", "FAR_CAP_EXCEEDED", action)
    return body


async def test_lowering_a_references_plot_ratio_below_a_dependants_is_refused(client, city):
    ref, dep = await _reference_pair(client)
    r = await client.patch(f"{API}/parcels/{ref['id']}", json={"properties": {"plot_ratio": 2.4}}, headers=BUREAU)
    body = await _assert_refused_unchanged(client, r, ref, dep)
    assert "would have plot ratio 2.4, below its 2.5" in body["detail"]
    ok = await client.patch(f"{API}/parcels/{ref['id']}", json={"properties": {"plot_ratio": 2.5}}, headers=BUREAU)
    assert ok.status_code == 200, ok.text


async def test_a_reference_turned_to_another_use_is_refused(client, city):
    ref, dep = await _reference_pair(client)
    r = await client.patch(f"{API}/parcels/{ref['id']}", json={"properties": {"land_use": "other"}},
                           headers=BUREAU)
    body = await _assert_refused_unchanged(client, r, ref, dep)
    assert "would become other land" in body["detail"]


async def test_a_reference_moved_beyond_the_reference_distance_is_refused(client, city):
    ref, dep = await _reference_pair(client)
    far = square(FRAGMENT[0] + 3000 * M_LON, FRAGMENT[1])
    r = await client.patch(f"{API}/parcels/{ref['id']}", json={"geometry": far}, headers=BUREAU)
    body = await _assert_refused_unchanged(client, r, ref, dep)
    assert "beyond 1000 m" in body["detail"]


async def test_deleting_a_reference_is_refused_unless_the_bureau_overrides(client, city):
    ref, dep = await _reference_pair(client)
    r = await client.delete(f"{API}/parcels/{ref['id']}", headers=BUREAU)
    await _assert_refused_unchanged(client, r, ref, dep, action="delete")
    r = await client.request("DELETE", f"{API}/parcels/{ref['id']}", json={"override": OVERRIDE}, headers=BUREAU)
    assert r.status_code == 204, r.text
    rows = await _audit(client, "parcel", dep["id"])
    assert rows[0]["action"] == "override" and rows[0]["detail"]["decision_ref"] == OVERRIDE["decision_ref"]


async def test_a_reference_nobody_relies_on_changes_freely(client, city):
    ref = await create_parcel(client, square(FRAGMENT[0] + 500 * M_LON, FRAGMENT[1]), code="REF-F",
                              land_use="office", plot_ratio=3.0)
    await create_parcel(client, square(*FRAGMENT), code="DEP-F", plot_ratio=1.8)  # within the default cap
    r = await client.patch(f"{API}/parcels/{ref['id']}", json={"properties": {"land_use": "other"}},
                           headers=BUREAU)
    assert r.status_code == 200, r.text


async def test_wfs_delete_of_a_reference_is_refused_and_rolled_back(client, city):
    ref, dep = await _reference_pair(client)
    body = (f'<wfs:Transaction service="WFS" version="1.1.0" {WFS11}><wfs:Delete typeName="landcycle:parcels">'
            f'<ogc:Filter><ogc:FeatureId fid="parcels.{ref["id"]}"/></ogc:Filter></wfs:Delete></wfs:Transaction>')
    r = await post(client, body)
    assert r.status_code == 200
    assert exception(r)[2].startswith(f"FAR_CAP_EXCEEDED: the change of reference parcel {ref['id']} (REF-1)")
    assert (await _props(client, "parcels", ref["id"]))["version"] == 1
    assert (await _audit(client, "parcel", ref["id"]))[0]["outcome"] == "refused"
    assert (await _props(client, "parcels", dep["id"]))["plot_ratio_reference_id"] == ref["id"]


async def test_wfs_update_of_a_references_ratio_is_refused(client, city):
    ref, dep = await _reference_pair(client)
    body = (f'<wfs:Transaction service="WFS" version="1.1.0" {WFS11}><wfs:Update typeName="landcycle:parcels">'
            "<wfs:Property><wfs:Name>plot_ratio</wfs:Name><wfs:Value>2.0</wfs:Value></wfs:Property>"
            f'<ogc:Filter><ogc:FeatureId fid="parcels.{ref["id"]}"/></ogc:Filter></wfs:Update></wfs:Transaction>')
    r = await post(client, body)
    assert exception(r)[2].startswith("FAR_CAP_EXCEEDED: ")
    assert (await _props(client, "parcels", ref["id"]))["plot_ratio"] == 3.0
    assert exception(r)[2].count(f"parcel {dep['id']} (DEP-1)") == 1
