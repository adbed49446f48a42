"""The authorisation matrix (SPEC §4, §6): every write endpoint × every role × own/other district, with the
exact status and code; anonymous access refused unless public read is on, and then read-only."""

from dataclasses import dataclass
from typing import Any

import pytest

from tests.builders import BZ, CZ, basic, create_parcel, feature, square

# Actors: (username or None for anonymous) and their label in the matrix.
ACTORS = {
    "bureau": "bureau",
    "admin": "admin",
    "viewer": "viewer",
    "officer.east": "officer_own",
    "officer.west": "officer_other",
    "evaluator.east": "evaluator_own",
    "anonymous": None,
}


@dataclass(frozen=True)
class Case:
    """One write endpoint on land in the east district; expected (status, code) per actor label, where
    `(2, None)` means the endpoint's success status `ok`."""

    name: str
    method: str
    expect: dict[str, tuple[int, str | None]]
    ok: int


PARCEL_WRITE = {"bureau": (2, None), "officer_own": (2, None), "officer_other": (403, "FORBIDDEN_DISTRICT"),
                "evaluator_own": (403, "FORBIDDEN_ROLE"), "viewer": (403, "FORBIDDEN_ROLE"),
                "admin": (403, "FORBIDDEN_ROLE"), "anonymous": (401, "UNAUTHENTICATED")}
BUREAU_ONLY = {"bureau": (2, None), "officer_own": (403, "FORBIDDEN_ROLE"), "officer_other": (403, "FORBIDDEN_ROLE"),
               "evaluator_own": (403, "FORBIDDEN_ROLE"), "viewer": (403, "FORBIDDEN_ROLE"),
               "admin": (403, "FORBIDDEN_ROLE"), "anonymous": (401, "UNAUTHENTICATED")}

CASES = [
    Case("create parcel", "POST /api/v1/parcels", PARCEL_WRITE, 201),
    Case("change parcel", "PATCH /api/v1/parcels/{parcel}", PARCEL_WRITE, 200),
    Case("retire parcel", "DELETE /api/v1/parcels/{parcel}", PARCEL_WRITE, 204),
    Case("create zone", "POST /api/v1/zones", BUREAU_ONLY, 201),
    Case("change zone", "PATCH /api/v1/zones/{zone}", BUREAU_ONLY, 200),
    Case("retire zone", "DELETE /api/v1/zones/{zone}", BUREAU_ONLY, 204),
]


def _body(case: Case, n: int) -> Any:
    if case.name == "create parcel":
        return feature(square(BZ[0] + 0.03, BZ[1] + 0.001 * n), code=f"M-{n}", land_use="industrial")
    if case.name == "change parcel":
        return {"properties": {"plot_ratio": 1.4}}
    if case.name == "create zone":
        ring = [[121.62, 31.12], [121.63, 31.12], [121.63, 31.13], [121.62, 31.13], [121.62, 31.12]]
        return feature({"type": "Polygon", "coordinates": [ring]}, code=f"Z-{n}", name="z", kind="community")
    if case.name == "change zone":
        return {"properties": {"name": f"renamed {n}"}}
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("user", list(ACTORS))
async def test_write_matrix(client, city, case, user):
    label = ACTORS[user] or "anonymous"
    # A fragment parcel in the east district (not planning-locked, so retiring it is a plain write).
    parcel = await create_parcel(client, square(121.62, 31.16), code="MX-1", plot_ratio=1.0)
    # A community zone in the east district, without parcels (its edits do not touch rule 1).
    zone = (await client.post("/api/v1/zones", json=feature(
        {"type": "Polygon", "coordinates": [[[121.65, 31.2], [121.66, 31.2], [121.66, 31.21], [121.65, 31.21],
                                              [121.65, 31.2]]]}, code="ZX", name="zx", kind="community"),
        headers=basic("bureau"))).json()
    method, template = case.method.split(" ")
    path = template.format(parcel=parcel["id"], zone=zone["id"])
    headers = basic(user) if user != "anonymous" else {}
    body = _body(case, 1)
    r = await client.request(method, path, json=body, headers=headers)
    status, code = case.expect[label]
    if status == 2:
        assert r.status_code == case.ok, (user, case.name, r.text)
    else:
        assert (r.status_code, r.json()["code"]) == (status, code), (user, case.name, r.text)
        assert r.headers["content-type"] == "application/problem+json"


async def test_district_officers_cannot_touch_the_west_from_the_east(client, city):
    west = await create_parcel(client, square(CZ[0] + 0.001, CZ[1] + 0.001), code="W-1")
    for method, body in (("PATCH", {"properties": {"plot_ratio": 1.4}}), ("DELETE", None)):
        r = await client.request(method, f"/api/v1/parcels/{west['id']}", json=body, headers=basic("officer.east"))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN_DISTRICT")


@pytest.mark.parametrize("path", ["/api/v1/parcels", "/api/v1/zones", "/api/v1/districts", "/api/v1/audit",
                                  "/api/v1/plot-ratio-requests"])
async def test_anonymous_reads_are_refused_without_public_read(client, city, path):
    r = await client.get(path)
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
