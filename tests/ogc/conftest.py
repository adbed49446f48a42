"""A small city for the OGC API tests: two districts, a base and a community zone (tests/builders.build_city)
and seven parcels written through the REST API, in the rolled-back transaction of each test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.builders import BZ, CZ, basic, build_city, create_parcel, square

OGC = "/ogc"
BUREAU = basic("bureau")


@dataclass
class OgcCity:
    """What the fixture made: the city and the parcels (REST bodies) in id order."""

    base_zone_id: int
    community_zone_id: int
    parcels: list[dict[str, Any]] = field(default_factory=list)

    def ids(self, **props: Any) -> list[int]:
        """Ids of the parcels whose properties have these values."""
        return [p["id"] for p in self.parcels if all(p["properties"].get(k) == v for k, v in props.items())]


# (lon, lat, land use, code): three in the base zone (east), two in the community (west), a fragment
# east, an office west.
SPOTS = [(BZ[0] + 0.004, BZ[1] + 0.004, "industrial", "OGC-B1"), (BZ[0] + 0.008, BZ[1] + 0.004, "industrial", "OGC-B2"),
         (BZ[0] + 0.004, BZ[1] + 0.008, "rnd", "OGC-B3"), (CZ[0] + 0.004, CZ[1] + 0.004, "industrial", "OGC-C1"),
         (CZ[0] + 0.008, CZ[1] + 0.004, "rnd", "OGC-C2"), (121.64, 31.15, "industrial", "OGC-F1"),
         (121.42, 31.15, "office", "OGC-O1")]


@pytest.fixture
async def ogc_city(client: httpx.AsyncClient, db: Any) -> OgcCity:
    """The city and its parcels."""
    city = await build_city(db)
    out = OgcCity(city.base_zone_id, city.community_zone_id)
    for lon, lat, use, code in SPOTS:
        out.parcels.append(await create_parcel(client, square(lon, lat, 120), code=code, land_use=use,
                                               plot_ratio=4.0 if use == "office" else 1.2))
    return out


async def get(client: httpx.AsyncClient, path: str, user: str | None = "bureau",
              headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    """GET /ogc{path} as `user` (None: no credentials)."""
    sent = {**(basic(user) if user else {}), **(headers or {})}
    return await client.get(OGC + path, params={k.replace("_", "-") if k in ("bbox_crs", "filter_lang")
                                                 else k: v for k, v in params.items()}, headers=sent)


def rel(body: dict[str, Any], name: str, media: str | None = None) -> list[dict[str, Any]]:
    """The links of relation `name` (and type `media`)."""
    return [link for link in body["links"] if link["rel"] == name and (media is None or link.get("type") == media)]


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def validator(api: dict[str, Any], schema: str) -> Any:
    """A JSON Schema validator of the API definition's component `schema` (its $refs resolved in the
    definition), to hold responses to what /ogc/api documents."""
    import jsonschema_rs

    root = {"components": {"schemas": _json_schema(api["components"]["schemas"])},
            "allOf": [{"$ref": f"#/components/schemas/{schema}"}]}
    return jsonschema_rs.Draft4Validator(root)
