"""The life cycle of industrial land as a pure table (SPEC §3 rules 7–8, §4): who moves which status."""

from datetime import date

import pytest

from app.errors import InvalidTransition, ValidationFailed
from app.parcels import lifecycle
from app.parcels.lifecycle import CONSEQUENCE, EDIT, EXIT, SIGNING, StatusChange, allowed, check_transition
from models.parcel import STATUSES

DAY = date(2026, 3, 1)


def move(frm, to, land_use="industrial"):
    return StatusChange(frm, None if frm is None else land_use, to, land_use)


def test_the_table_knows_every_stored_status_and_only_those():
    assert lifecycle.STATUSES == STATUSES
    assert {s for pair in lifecycle.TRANSITIONS for s in pair} == set(STATUSES)


@pytest.mark.parametrize(("frm", "to", "cause"), [
    ("planned", "supplied", SIGNING), ("recovered", "supplied", SIGNING), ("exiting", "supplied", SIGNING),
    ("supplied", "under_construction", EDIT), ("under_construction", "operating", EDIT),
    ("operating", "rectification", CONSEQUENCE), ("rectification", "under_construction", CONSEQUENCE),
    ("rectification", "exiting", EXIT), ("operating", "exiting", EXIT), ("exiting", "recovered", EXIT),
])
def test_each_step_is_made_by_its_cause(frm, to, cause):
    check_transition(move(frm, to), cause, DAY if cause == EDIT else None, DAY, DAY)


@pytest.mark.parametrize(("frm", "to", "moved_by"), [
    ("planned", "supplied", SIGNING), ("operating", "recovered", None), ("operating", "rectification", CONSEQUENCE),
    ("operating", "exiting", EXIT), ("exiting", "recovered", EXIT), ("operating", "supplied", None),
    ("planned", "operating", None), ("under_construction", "supplied", None), ("supplied", "operating", None),
])
def test_a_direct_edit_cannot_take_another_causes_step(frm, to, moved_by):
    with pytest.raises(InvalidTransition) as err:
        check_transition(move(frm, to), EDIT, DAY, DAY)
    numbers = err.value.numbers
    assert (numbers["from"], numbers["to"], numbers["moved_by"]) == (frm, to, moved_by)
    assert numbers["allowed"] == allowed(frm, EDIT)


def test_allowed_lists_the_edits_a_district_may_make():
    assert allowed("supplied", EDIT) == ["under_construction"]
    assert allowed("under_construction", EDIT) == ["operating"]
    assert allowed("operating", EDIT) == [] and allowed("planned", EDIT) == []
    assert allowed(None, EDIT) == ["planned"]


def test_new_industrial_land_enters_planned_reference_land_is_free():
    check_transition(move(None, "planned"), EDIT)
    with pytest.raises(InvalidTransition) as err:
        check_transition(move(None, "operating"), EDIT)
    assert err.value.numbers["allowed"] == ["planned"]
    check_transition(move(None, "operating", "office"), EDIT)
    check_transition(move("operating", "planned", "office"), EDIT)


def test_land_turned_industrial_enters_the_life_cycle_planned():
    change = StatusChange("operating", "office", "operating", "industrial")
    with pytest.raises(InvalidTransition):
        check_transition(change, EDIT)
    check_transition(StatusChange("operating", "office", "planned", "industrial"), EDIT)


def test_the_construction_start_needs_its_date_not_in_the_future_nor_before_signing():
    change = move("supplied", "under_construction")
    with pytest.raises(ValidationFailed, match="construction start"):
        check_transition(change, EDIT, None, DAY)
    with pytest.raises(ValidationFailed, match="after today"):
        check_transition(change, EDIT, date(2026, 3, 2), DAY)
    with pytest.raises(ValidationFailed, match="precedes the contract's signing"):
        check_transition(change, EDIT, date(2020, 1, 1), DAY, date(2021, 1, 1))
    check_transition(change, EDIT, date(2021, 1, 1), DAY, date(2021, 1, 1))


def test_a_date_without_a_step_is_refused():
    with pytest.raises(ValidationFailed, match="status stays"):
        check_transition(move("operating", "operating"), EDIT, DAY, DAY)
    check_transition(move("operating", "operating"), EDIT)


def test_land_that_had_a_contract_is_not_deleted():
    lifecycle.check_retire(1, "planned", had_contract=False)
    with pytest.raises(InvalidTransition, match="exit case") as err:
        lifecycle.check_retire(1, "recovered", had_contract=True)
    assert (err.value.numbers["from"], err.value.numbers["to"], err.value.numbers["allowed"]) == (
        "recovered", None, [])
