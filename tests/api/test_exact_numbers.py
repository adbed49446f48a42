"""Exact numbers at the boundary, through REST: rule 4's bottom line and rule 6's ratios in decimal, and
the tier of a parcel split exactly in half between a base and a community (SPEC §2: base wins)."""

from datetime import date

import pytest

from tests.builders import EAST, basic, create_parcel, feature
from tests.contract_builders import contract, enterprise, organisation, parcel, pending, result, targets

API = "/api/v1"
TODAY = date(2026, 6, 1)
pytestmark = pytest.mark.settings(today=TODAY)
OUTPUTS = [200.1, 200.1, 200.1, 200.1, 200.3]  # mean 200.14; as binary floats 200.14000000000001
TAXES = [15.1, 15.1, 15.1, 15.2, 15.4]  # mean 15.18; as binary floats 15.180000000000001


async def _peers(client, industry, outputs, taxes):
    """Contracts of `industry` in the east district whose latest results are these values."""
    org = await organisation(client, EAST)
    for out, tax in zip(outputs, taxes, strict=True):
        peer = await contract(client, (await parcel(client, "base"))["id"], await enterprise(client, industry),
                              org, date(2015, 1, 10), targets(output_per_mu=200.0, tax_per_mu=15.0))
        commissioning = await pending(client, peer["id"], "commissioning")
        await result(client, commissioning["id"], date(2018, 2, 1), output_per_mu=out, tax_per_mu=tax)
    return org


async def test_committing_exactly_the_peer_mean_passes_the_access_standard(client, city):
    org = await _peers(client, "C39", OUTPUTS, TAXES)
    land, ent = await parcel(client, "base"), await enterprise(client, "C39")
    refused = await contract(client, land["id"], ent, org, date(2019, 1, 1),
                             targets(output_per_mu=200.13, tax_per_mu=15.18), expect=409)
    assert refused["code"] == "ACCESS_STANDARD_NOT_MET"
    assert (refused["bottom_line"], refused["source"], refused["n"]) == (200.14, "district", 5)
    signed = await contract(client, land["id"], ent, org, date(2019, 1, 1),
                            targets(output_per_mu=refused["bottom_line"], tax_per_mu=15.18))
    assert signed["status"] == "active"


async def test_a_repeating_mean_is_printed_at_four_decimals_and_that_figure_passes(client, city):
    org = await _peers(client, "C27", [200.1] * 5 + [200.0], [15.0] * 6)  # 1200.6 / 6 = 200.08333…
    land, ent = await parcel(client, "base"), await enterprise(client, "C27")
    refused = await contract(client, land["id"], ent, org, date(2019, 1, 1),
                             targets(output_per_mu=200.08, tax_per_mu=15.0), expect=409)
    assert (refused["bottom_line"], refused["n"]) == (200.0833, 6)
    assert "below the bottom line 200.0833 " in refused["detail"]
    signed = await contract(client, land["id"], ent, org, date(2019, 1, 1),
                            targets(output_per_mu=refused["bottom_line"], tax_per_mu=15.0))
    assert signed["status"] == "active"


async def test_measuring_exactly_the_peer_mean_is_a_ratio_of_one_and_a_pass(client, city):
    org = await _peers(client, "C39", OUTPUTS, TAXES)
    signed = await contract(client, (await parcel(client, "base"))["id"], await enterprise(client, "C39"), org,
                            date(2019, 1, 1), targets(output_per_mu=200.14, tax_per_mu=15.18))
    commissioning = await pending(client, signed["id"], "commissioning")
    scored = await result(client, commissioning["id"], date(2022, 3, 1), output_per_mu=200.14, tax_per_mu=15.18)
    assert scored["ratios"] == {"output_per_mu": 1.0, "tax_per_mu": 1.0}
    assert scored["peer_groups"]["output_per_mu"]["bottom_line"] == 200.14
    assert scored["outcome"] == "pass"


def _rect(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


async def _zone(client, code, kind, bounds):
    r = await client.post(f"{API}/zones", json=feature(_rect(*bounds), code=code, name=code, kind=kind),
                          headers=basic("bureau"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_parcel_split_exactly_in_half_between_base_and_community_is_base(client, city):
    # On the ellipsoid each half measures 0.4999999997 of the whole: compared exactly, neither would be
    # the majority. The community is created first (lower id) so the base wins by its kind alone.
    community = await _zone(client, "HALF-C", "community", (121.42, 31.19, 121.4561, 31.21))
    base = await _zone(client, "HALF-B", "base", (121.4561, 31.19, 121.49, 31.21))
    made = await create_parcel(client, _rect(121.45, 31.2, 121.4622, 31.2017), code="HALF-1")
    assert (made["properties"]["tier"], made["properties"]["zone_id"]) == ("base", base)
    assert community != base
