"""Rule 9's state machine and checks as pure functions."""

from datetime import date

import pytest

from app.auth.permissions import Actor
from app.errors import (
    ForbiddenDistrict,
    ForbiddenRole,
    InvalidTransition,
    NoticePeriodNotOver,
    SelfApprovalForbidden,
    ValidationFailed,
)
from app.requests.workflow import (
    ACTIONS,
    STATES,
    TRANSITIONS,
    RequestFacts,
    check_decider,
    check_notice_over,
    check_notice_period,
    check_submitter,
    check_withdrawer,
    route_for,
    transition,
)

BUREAU = Actor(1, "bureau", "bureau")
BUREAU2 = Actor(2, "bureau2", "bureau")
OFFICER = Actor(3, "officer.east", "district_officer", "310115")
COLLEAGUE = Actor(4, "officer2.east", "district_officer", "310115")
OTHER = Actor(5, "officer.west", "district_officer", "310112")
EVALUATOR = Actor(6, "evaluator.east", "evaluator", "310115")
DISTRICT = RequestFacts("public_notice", "district", "310115", "officer.east", date(2026, 3, 10))
CITY = RequestFacts("public_notice", "city", "310115", "officer.east", date(2026, 3, 10))

ALLOWED = [
    ("submitted", "record_notice", "public_notice"),
    ("public_notice", "approve", "approved"),
    ("public_notice", "reject", "rejected"),
    ("submitted", "withdraw", "withdrawn"),
    ("public_notice", "withdraw", "withdrawn"),
]


@pytest.mark.parametrize("state,action,after", ALLOWED)
def test_allowed_transitions(state, action, after):
    assert transition(state, action) == after


REFUSED = [(s, a) for s in STATES for a in ACTIONS if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize("state,action", REFUSED)
def test_every_other_transition_is_refused_naming_state_and_action(state, action):
    with pytest.raises(InvalidTransition) as err:
        transition(state, action)
    assert err.value.numbers["state"] == state and err.value.numbers["action"] == action
    assert state.replace("_", " ") in err.value.detail


def test_there_are_exactly_five_transitions():
    assert sorted(TRANSITIONS) == sorted((s, a) for s, a, _ in ALLOWED)


def test_route_is_district_up_to_the_default_cap_and_city_above():
    assert route_for(2.0, 2.0) == "district"
    assert route_for(2.01, 2.0) == "city"


def test_submitters_are_officers_of_the_district_or_the_bureau():
    check_submitter(OFFICER, "310115")
    check_submitter(BUREAU, "310112")
    with pytest.raises(ForbiddenDistrict):
        check_submitter(OTHER, "310115")
    with pytest.raises(ForbiddenRole):
        check_submitter(EVALUATOR, "310115")


def test_district_route_is_decided_by_a_colleague_or_the_bureau_never_the_submitter():
    check_decider(COLLEAGUE, DISTRICT)
    check_decider(BUREAU, DISTRICT)
    with pytest.raises(SelfApprovalForbidden):
        check_decider(OFFICER, DISTRICT)
    with pytest.raises(ForbiddenDistrict):
        check_decider(OTHER, DISTRICT)
    with pytest.raises(ForbiddenRole):
        check_decider(EVALUATOR, DISTRICT)


def test_city_route_is_decided_by_the_bureau_only():
    check_decider(BUREAU, CITY)
    with pytest.raises(ForbiddenRole):
        check_decider(COLLEAGUE, CITY)
    own = RequestFacts("public_notice", "city", "310115", "bureau", date(2026, 3, 10))
    with pytest.raises(SelfApprovalForbidden):
        check_decider(BUREAU, own)
    check_decider(BUREAU2, own)


def test_only_the_submitter_withdraws():
    check_withdrawer(OFFICER, DISTRICT)
    for someone_else in (COLLEAGUE, BUREAU, EVALUATOR):
        with pytest.raises(ForbiddenRole):
            check_withdrawer(someone_else, DISTRICT)
    with pytest.raises(ForbiddenDistrict):
        check_withdrawer(OTHER, DISTRICT)


def test_a_notice_lasts_seven_to_thirty_days_both_ends_included():
    check_notice_period(date(2026, 3, 1), date(2026, 3, 7))
    check_notice_period(date(2026, 3, 1), date(2026, 3, 30))
    for ends in (date(2026, 3, 6), date(2026, 3, 31), date(2026, 2, 1)):
        with pytest.raises(ValidationFailed):
            check_notice_period(date(2026, 3, 1), ends)


def test_a_decision_waits_for_the_day_after_the_notice_ends():
    with pytest.raises(NoticePeriodNotOver) as err:
        check_notice_over(DISTRICT, date(2026, 3, 10))
    assert err.value.numbers == {"notice_ends_on": "2026-03-10", "today": "2026-03-10", "decide_from": "2026-03-11"}
    check_notice_over(DISTRICT, date(2026, 3, 11))
