"""Authentication, roles and district scope (SPEC §4) over REST."""

from app.main import create_app
from tests.builders import BZ, CZ, basic, create_parcel, feature, square
from tests.conftest import make_settings


async def test_a_token_from_the_login_endpoint_authenticates(client, city):
    r = await client.post("/api/v1/auth/token", data={"username": "bureau", "password": "test-password"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "bureau", "role": "bureau", "district_code": None, "organisation_id": None,
                         "source": None}


async def test_wrong_passwords_and_missing_credentials_are_401(client, city):
    r = await client.post("/api/v1/auth/token", data={"username": "bureau", "password": "nope"})
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    r = await client.get("/api/v1/parcels")
    assert r.status_code == 401 and "Basic" in r.headers["www-authenticate"]
    r = await client.get("/api/v1/parcels", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = await client.get("/api/v1/parcels", headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401


async def test_repeated_login_failures_are_rate_limited(client, city):
    for _ in range(5):
        await client.post("/api/v1/auth/token", data={"username": "viewer", "password": "wrong"})
    r = await client.post("/api/v1/auth/token", data={"username": "viewer", "password": "test-password"})
    assert (r.status_code, r.json()["code"]) == (429, "TOO_MANY_REQUESTS")
    assert int(r.headers["retry-after"]) > 0


async def test_a_district_officer_cannot_write_outside_their_district(client, city):
    r = await client.post("/api/v1/parcels", json=feature(square(CZ[0] + 0.01, CZ[1] + 0.01), code="X-1",
                                                          land_use="industrial"), headers=basic("officer.east"))
    assert r.status_code == 403
    body = r.json()
    assert body["code"] == "FORBIDDEN_DISTRICT"
    assert (body["your_district"], body["district_code"]) == ("310115", "310112")


async def test_a_district_officer_writes_in_their_district_but_cannot_move_land_out_of_it(client, city):
    p = await create_parcel(client, square(BZ[0] + 0.01, BZ[1] + 0.01), user="officer.east", code="E-1")
    r = await client.patch(f"/api/v1/parcels/{p['id']}", json={"properties": {"plot_ratio": 1.6}},
                           headers=basic("officer2.east"))
    assert r.status_code == 200
    west = await create_parcel(client, square(121.45, 31.2), user="officer.west", code="W-1")
    r = await client.patch(f"/api/v1/parcels/{west['id']}", json={"properties": {"plot_ratio": 1.6}},
                           headers=basic("officer.east"))
    assert r.json()["code"] == "FORBIDDEN_DISTRICT"


async def test_viewers_evaluators_and_admins_cannot_edit_parcels(client, city):
    for user in ("viewer", "evaluator.east", "admin"):
        r = await client.post("/api/v1/parcels", json=feature(square(BZ[0] + 0.01, BZ[1] + 0.01), code="Y",
                                                              land_use="industrial"), headers=basic(user))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_ROLE"), user


async def test_the_audit_log_is_for_bureau_admin_and_viewer(client, city):
    for user, status in (("bureau", 200), ("admin", 200), ("viewer", 200), ("officer.east", 403)):
        assert (await client.get("/api/v1/audit", headers=basic(user))).status_code == status


async def test_public_read_lets_anonymous_clients_read_but_not_write(db, city):
    import httpx

    app = create_app(make_settings(public_read=True), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as anon:
        assert (await anon.get("/api/v1/parcels")).status_code == 200
        r = await anon.post("/api/v1/parcels", json=feature(square(121.45, 31.2), code="A", land_use="industrial"))
        assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")


async def test_errors_carry_the_request_id_and_no_internals(client, city):
    r = await client.get("/api/v1/parcels/123456789", headers={**basic("bureau"), "X-Request-Id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert r.json()["request_id"] == "abc123"
    assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower()
