"""Service endpoints, OpenAPI and the demo city."""

from sqlalchemy import text

from app.demo.city import generate
from app.demo.load import load_demo
from tests.builders import basic


async def test_health_and_readiness(client, engine):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["revision"] == r.json()["head"]


async def test_openapi_lists_the_resources(client):
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/parcels", "/api/v1/parcels/{parcel_id}", "/api/v1/parcels/{parcel_id}/history",
                 "/api/v1/zones", "/api/v1/districts", "/api/v1/audit", "/api/v1/auth/token"):
        assert path in spec["paths"], path
    assert (await client.get("/docs")).status_code == 200


def test_the_demo_city_is_the_same_for_the_same_seed_and_differs_for_another():
    a, b, c = generate(300, seed=7), generate(300, seed=7), generate(300, seed=8)
    assert a.parcels.codes == b.parcels.codes
    assert [g.wkb for g in a.parcels.geoms[:20]] == [g.wkb for g in b.parcels.geoms[:20]]
    assert [g.wkb for g in a.parcels.geoms[:20]] != [g.wkb for g in c.parcels.geoms[:20]]


async def test_the_demo_load_builds_the_three_tiers_and_users_of_every_role(db, settings, client, conn):
    await load_demo(db, settings, parcels=400, seed=3, progress=lambda _m: None)

    async def scalar(sql):
        return (await conn.execute(text(sql))).scalar()

    assert await scalar("SELECT count(*) FROM district") == 16
    assert await scalar("SELECT count(*) FROM zone WHERE kind = 'base' AND advanced_manufacturing") == 5
    assert await scalar("SELECT count(*) FROM zone WHERE kind = 'community'") >= 5
    industrial = "SELECT count(*) FROM parcel WHERE valid_to IS NULL AND land_use IN ('industrial', 'rnd')"
    assert await scalar(industrial) == 400
    tiers = {r[0] for r in await conn.execute(text("SELECT DISTINCT tier FROM parcel WHERE tier IS NOT NULL"))}
    assert tiers == {"base", "community", "fragment"}
    legacy = {r[0] for r in await conn.execute(text("SELECT DISTINCT legacy_zone FROM parcel"))}
    assert {"104", "195", "198"} <= legacy
    lo, hi = (await conn.execute(text(
        "SELECT min(plot_ratio), max(plot_ratio) FROM parcel WHERE land_use IN ('office', 'commercial')"))).one()
    assert lo >= 2.5 and hi <= 6.0
    roles = {r[0] for r in await conn.execute(text("SELECT DISTINCT role FROM app_user"))}
    assert roles == {"admin", "bureau", "district_officer", "evaluator", "viewer", "org_manager", "data_provider"}
    r = await client.get("/api/v1/parcels?tier=base&limit=5", headers=basic("bureau", "landcycle"))
    assert r.status_code == 200 and r.json()["numberReturned"] == 5
