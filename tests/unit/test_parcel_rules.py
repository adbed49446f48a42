"""Rules 1 and 3 and the tier of SPEC §2, as pure functions (no database)."""

import pytest

from app.errors import FarCapExceeded, LockupPlanning, ValidationFailed
from app.parcels.rules import (
    LockState,
    Override,
    Reference,
    ZoneFacts,
    base_cap,
    check_far,
    check_planning_lock,
    classify,
    num,
)
from app.policy import Policy

POLICY = Policy()
AM_BASE = ZoneFacts(id=1, code="LG", kind="base", advanced_manufacturing=True)
PLAIN_BASE = ZoneFacts(id=2, code="SJB", kind="base", advanced_manufacturing=False)
COMMUNITY = ZoneFacts(id=3, code="C1", kind="community", advanced_manufacturing=False)
LOW_CAP = ZoneFacts(id=4, code="C2", kind="community", advanced_manufacturing=False, far_cap=1.6, far_min=1.0)
OVERRIDE = Override(decision_ref="沪规划资源〔2026〕12号", reason="road widening")


def office(ratio: float, distance: float = 300.0, same_zone: bool = False, use: str = "office") -> Reference:
    return Reference(id=99, code="OFF-1", land_use=use, plot_ratio=ratio, distance_m=distance, same_zone=same_zone)


# ---- tier (SPEC §2) and planning lock flag (rule 1)
def test_industrial_land_in_an_advanced_manufacturing_base_is_base_tier_and_locked():
    assert classify("industrial", AM_BASE) == classify("industrial", AM_BASE)
    c = classify("rnd", AM_BASE)
    assert (c.tier, c.zone_id, c.planning_locked) == ("base", 1, True)


def test_base_without_advanced_manufacturing_is_not_locked():
    c = classify("industrial", PLAIN_BASE)
    assert (c.tier, c.planning_locked) == ("base", False)


def test_community_land_is_community_tier():
    assert classify("industrial", COMMUNITY).tier == "community"


def test_industrial_land_outside_every_zone_is_a_fragment():
    c = classify("industrial", None)
    assert (c.tier, c.zone_id, c.planning_locked) == ("fragment", None, False)


def test_office_land_has_no_tier_but_keeps_its_zone():
    c = classify("office", AM_BASE)
    assert (c.tier, c.zone_id, c.planning_locked) == (None, 1, False)


# ---- rule 1
LOCKED = LockState(parcel_id=7, planning_locked=True, zone_id=1, land_use="industrial")


def test_planning_lock_refuses_a_change_of_use_to_office():
    after = LockState(7, False, 1, "office")
    with pytest.raises(LockupPlanning) as err:
        check_planning_lock([(LOCKED, after)], None, actor_is_bureau=True)
    assert "land use would change to office" in err.value.detail
    assert err.value.numbers["parcel_ids"] == [7]


def test_planning_lock_refuses_leaving_the_zone_and_deletion():
    for after in (LockState(7, False, None, "industrial"), None):
        with pytest.raises(LockupPlanning):
            check_planning_lock([(LOCKED, after)], None, actor_is_bureau=True)


def test_planning_lock_refuses_moving_into_another_locked_base():
    with pytest.raises(LockupPlanning):
        check_planning_lock([(LOCKED, LockState(7, True, 9, "industrial"))], None, actor_is_bureau=True)


def test_planning_lock_allows_changes_that_stay_locked():
    assert check_planning_lock([(LOCKED, LockState(7, True, 1, "rnd"))], None, actor_is_bureau=False) == []


def test_bureau_override_lifts_the_lock_and_reports_what_it_lifted():
    lifted = check_planning_lock([(LOCKED, None)], OVERRIDE, actor_is_bureau=True)
    assert lifted == [(7, "it would be deleted")]


def test_an_override_from_anyone_but_the_bureau_does_not_lift_the_lock():
    with pytest.raises(LockupPlanning):
        check_planning_lock([(LOCKED, None)], OVERRIDE, actor_is_bureau=False)


def test_unlocked_parcels_are_free():
    free = LockState(8, False, 3, "industrial")
    assert check_planning_lock([(free, None)], None, actor_is_bureau=False) == []


# ---- rule 3
def test_default_caps_are_two_for_industrial_and_three_for_rnd():
    assert base_cap("industrial", None, POLICY).value == 2.0
    assert base_cap("rnd", None, POLICY).value == 3.0
    assert base_cap("office", None, POLICY).value is None


def test_a_zone_may_set_a_lower_cap():
    cap = base_cap("industrial", LOW_CAP, POLICY)
    assert (cap.value, cap.source) == (1.6, "zone")


def test_plot_ratio_within_the_cap_passes():
    cap = check_far("industrial", 2.0, None, POLICY)
    assert (cap.value, cap.source, cap.reference_id) == (2.0, "default", None)


def test_plot_ratio_above_the_cap_without_reference_names_cap_request_and_nearest_candidate():
    with pytest.raises(FarCapExceeded) as err:
        check_far("industrial", 9.9, None, POLICY, nearest=office(4.0, 420))
    e = err.value
    assert e.detail.startswith("plot ratio 9.9 above cap 2.0 for industrial land")
    assert e.numbers["cap"] == 2.0 and e.numbers["requested"] == 9.9
    assert e.numbers["nearest_reference"]["id"] == 99
    assert e.numbers["nearest_reference"]["qualifies"] is False


def test_plot_ratio_above_the_cap_with_a_qualifying_reference_takes_its_ratio_as_cap():
    cap = check_far("industrial", 2.8, None, POLICY, reference=office(3.5, 800))
    assert (cap.value, cap.source, cap.reference_id) == (3.5, "reference", 99)


def test_reference_in_the_same_zone_qualifies_at_any_distance():
    cap = check_far("rnd", 3.2, COMMUNITY, POLICY, reference=office(4.0, 5000, same_zone=True, use="commercial"))
    assert cap.source == "reference"


@pytest.mark.parametrize("reference", [
    office(3.5, 1200),                       # too far, other zone
    office(2.5, 100),                        # ratio below the requested one
    office(5.0, 100, use="industrial"),      # not office/commercial
])
def test_a_reference_that_does_not_qualify_is_refused(reference):
    with pytest.raises(FarCapExceeded) as err:
        check_far("industrial", 2.8, None, POLICY, reference=reference)
    assert "does not qualify" in err.value.detail


def test_a_zone_cap_is_not_lifted_by_a_reference():
    with pytest.raises(FarCapExceeded) as err:
        check_far("industrial", 1.8, LOW_CAP, POLICY, reference=office(4.0, 10, same_zone=True))
    assert err.value.numbers["cap"] == 1.6 and err.value.numbers["cap_source"] == "zone"


def test_a_plot_ratio_below_the_zone_minimum_is_refused():
    with pytest.raises(ValidationFailed) as err:
        check_far("industrial", 0.8, LOW_CAP, POLICY)
    assert err.value.numbers["far_min"] == 1.0


def test_configured_caps_apply():
    policy = Policy(far_cap_industrial=2.5)
    assert check_far("industrial", 2.4, None, policy).value == 2.5


def test_ratios_print_as_planners_write_them():
    assert [num(2.0), num(2.5), num(2.25), num(None)] == ["2.0", "2.5", "2.25", "none"]
