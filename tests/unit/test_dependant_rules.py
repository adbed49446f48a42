"""Rule 3 over what rests on a zone or a reference parcel (app/zones/rules.py), without a database."""

import pytest

from app.errors import FarCapExceeded, ValidationFailed
from app.parcels.rules import Override, ZoneFacts
from app.policy import Policy
from app.zones.rules import Dependant, ReferenceChange, ZoneChange, check_dependants

POLICY = Policy()
CZ = ZoneChange(7, "CZ")
OVERRIDE = Override("沪规划资源〔2026〕12号", "plan revised")


def zone(far_cap=None, far_min=None):
    return ZoneFacts(7, "CZ", "community", False, far_cap, far_min)


def parcel(pid, ratio, z=None, land_use="industrial", **kw):
    return Dependant(pid, f"P-{pid}", land_use, ratio, z, **kw)


def test_a_zone_cap_below_a_parcels_ratio_is_refused_listing_every_parcel():
    z = zone(far_cap=1.6)
    with pytest.raises(FarCapExceeded) as err:
        check_dependants(CZ, [parcel(3, 1.8, z), parcel(1, 1.7, z), parcel(2, 1.6, z), parcel(4, None, z)],
                         POLICY, None, True)
    n = err.value.numbers
    assert (n["count"], n["parcel_ids"], n["zone_code"]) == (2, [1, 3], "CZ")
    assert n["dependants"][0] == {"id": 1, "code": "P-1", "plot_ratio": 1.7,
                                  "why": "plot ratio 1.7 above cap 1.6 of zone CZ"}
    assert "(and 1 more parcels)" in err.value.detail


def test_a_zone_cap_above_the_default_binds_nothing():
    check_dependants(CZ, [parcel(1, 1.9, zone(far_cap=2.5))], POLICY, None, False)


def test_a_zone_minimum_above_a_parcels_ratio_is_a_validation_error():
    with pytest.raises(ValidationFailed) as err:
        check_dependants(CZ, [parcel(1, 0.8, zone(far_min=1.0))], POLICY, None, False)
    assert err.value.numbers["parcel_ids"] == [1]


def test_a_bureau_override_returns_the_breaches_to_audit():
    found = check_dependants(CZ, [parcel(1, 1.8, zone(far_cap=1.6))], POLICY, OVERRIDE, True)
    assert [b.parcel_id for b in found] == [1]
    with pytest.raises(FarCapExceeded):
        check_dependants(CZ, [parcel(1, 1.8, zone(far_cap=1.6))], POLICY, OVERRIDE, False)


def ref(land_use="office", ratio=3.0):
    return ReferenceChange(9, "REF", land_use, ratio)


@pytest.mark.parametrize(("change", "why"), [
    (ref(ratio=2.4), "would have plot ratio 2.4, below its 2.5"),
    (ref(land_use="other"), "would become other land"),
    (ref(land_use=None, ratio=None), "would be deleted"),
])
def test_a_reference_change_that_drops_a_dependant_is_refused(change, why):
    with pytest.raises(FarCapExceeded) as err:
        check_dependants(change, [parcel(1, 2.5, distance_m=400.0)], POLICY, None, True)
    assert why in err.value.numbers["dependants"][0]["why"] and err.value.numbers["reference_id"] == 9


def test_a_reference_moved_beyond_the_distance_holds_only_within_the_same_zone():
    with pytest.raises(FarCapExceeded) as err:
        check_dependants(ref(), [parcel(1, 2.5, distance_m=1500.0)], POLICY, None, True)
    assert "1500 m away, beyond 1000 m" in err.value.detail
    check_dependants(ref(), [parcel(1, 2.5, distance_m=1500.0, same_zone=True)], POLICY, None, False)


def test_a_dependant_within_the_default_cap_or_equal_to_the_reference_is_not_breached():
    check_dependants(ref(ratio=2.5), [parcel(1, 2.5, distance_m=10.0), parcel(2, 1.9, distance_m=5000.0)],
                     POLICY, None, False)
    check_dependants(ref(land_use=None, ratio=None), [parcel(3, 2.9, land_use="rnd", distance_m=1.0)],
                     POLICY, None, False)  # R&D's default cap is 3.0: it does not rest on the reference
