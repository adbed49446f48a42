"""Builders for contract tests: enterprises with valid USCCs, organisations, parcels placed in the test
city's zones, contracts and results through the API."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import httpx

from app.enterprises.uscc import check_character
from tests.builders import BZ, CZ, EAST, WEST, basic, create_parcel, square

API = "/api/v1"
_serial = itertools.count(1)
# Where parcels go: inside the base zone BZ (east), the community CZ (west), or outside any zone.
SITES = {"base": (BZ[0] + 0.002, BZ[1] + 0.002), "community": (CZ[0] + 0.002, CZ[1] + 0.002),
         "fragment_east": (121.64, 31.15), "fragment_west": (121.42, 31.15)}


def uscc(n: int, district: str = "310115") -> str:
    """A valid unified social credit code numbered `n`."""
    body = f"91{district}{n:09d}"
    return body + check_character(body)


def targets(**values: float) -> list[dict[str, Any]]:
    """Contract indicators: output 300 and tax 20 (above the floors 200 / 15) unless given."""
    values = {"output_per_mu": 300.0, "tax_per_mu": 20.0, **values}
    return [{"code": k, "target": v} for k, v in values.items()]


async def enterprise(client: httpx.AsyncClient, industry: str = "C39", user: str = "bureau") -> int:
    n = next(_serial)
    r = await client.post(f"{API}/enterprises", json={"name": f"Enterprise {n}", "uscc": uscc(n),
                                                      "industry_code": industry}, headers=basic(user))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def organisation(client: httpx.AsyncClient, district: str = EAST,
                       kind: str = "district_government") -> int:
    r = await client.post(f"{API}/organisations", json={"name": f"Org {district} {next(_serial)}",
                                                        "kind": kind,
                                                        "district_code": district}, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def parcel(client: httpx.AsyncClient, site: str = "base", **props: Any) -> dict[str, Any]:
    """A 100 m industrial parcel at the next free spot of `site`."""
    n = next(_serial)
    lon, lat = SITES[site]
    geometry = square(lon + (n % 25) * 0.0015, lat + (n // 25 % 25) * 0.0015)
    props.setdefault("code", f"P-{site}-{n}")
    props.setdefault("plot_ratio", 1.5)
    return await create_parcel(client, geometry, **props)


async def operate(client: httpx.AsyncClient, parcel_id: int, status: str = "operating",
                  on: date | None = None) -> None:
    """Move a parcel on (supplied → under construction → operating), as a district would: each step with
    its date (`status_on`, SPEC §4), by default the signing day of the parcel's contract."""
    if on is None:
        r = await client.get(f"{API}/contracts", params={"parcel_id": parcel_id}, headers=basic("bureau"))
        on = max(date.fromisoformat(c["signed_on"]) for c in r.json()["items"])
    steps = ["under_construction", "operating"]
    url = f"{API}/parcels/{parcel_id}"
    current = (await client.get(url, headers=basic("bureau"))).json()["properties"]["status"]
    for step in steps[steps.index(current) + 1 if current in steps else 0:steps.index(status) + 1]:
        r = await client.patch(url, json={"properties": {"status": step, "status_on": on.isoformat()}},
                               headers=basic("bureau"))
        assert r.status_code == 200, r.text


async def contract(client: httpx.AsyncClient, parcel_id: int, enterprise_id: int, org_id: int,
                   signed_on: date,
                   indicators: list[dict[str, Any]] | None = None, user: str = "bureau", expect: int = 201,
                   **fields: Any) -> dict[str, Any]:
    body = {"code": fields.pop("code", f"HT-{next(_serial)}"), "parcel_id": parcel_id,
            "enterprise_id": enterprise_id, "responsible_org_id": org_id, "signed_on": signed_on.isoformat(),
            "indicators": targets() if indicators is None else indicators, **fields}
    r = await client.post(f"{API}/contracts", json=body, headers=basic(user))
    assert r.status_code == expect, r.text
    out: dict[str, Any] = r.json()
    return out


async def operating_land(client: httpx.AsyncClient, signed_on: date = date(2025, 1, 1)) -> dict[str, Any]:
    """An operating industrial parcel (plot ratio 1.5) in the east base zone under an active contract:
    {"parcel", "contract", "enterprise", "org"}."""
    ent, org = await enterprise(client), await organisation(client, EAST)
    p = await parcel(client, "base")
    c = await contract(client, p["id"], ent, org, signed_on)
    await operate(client, p["id"])
    return {"parcel": p, "contract": c, "enterprise": ent, "org": org}


async def evaluations(client: httpx.AsyncClient, contract_id: int, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/evaluations", params={"contract_id": contract_id, "limit": 100, **params},
                         headers=basic("bureau"))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def pending(client: httpx.AsyncClient, contract_id: int, stage: str, seq: int = 1) -> dict[str, Any]:
    """The contract's evaluation of that stage and number."""
    found = [e for e in await evaluations(client, contract_id) if e["stage"] == stage and e["seq"] == seq
             and e["status"] in ("scheduled", "overdue")]
    assert len(found) == 1, found
    return found[0]


async def result(client: httpx.AsyncClient, evaluation_id: int, evaluated_on: date, expect: int = 200,
                 user: str = "bureau", **measurements: float) -> dict[str, Any]:
    r = await client.post(f"{API}/evaluations/{evaluation_id}/result",
                          json={"evaluated_on": evaluated_on.isoformat(), "measurements": measurements},
                          headers=basic(user))
    assert r.status_code == expect, r.text
    out: dict[str, Any] = r.json()
    return out


__all__ = ["EAST", "WEST"]
