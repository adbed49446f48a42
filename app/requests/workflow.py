"""Rule 9 as pure functions: the request state machine, the route, who may act, the notice period.

No database, no HTTP. The service loads facts, calls these, and writes what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.auth.permissions import Actor
from app.errors import (
    ForbiddenDistrict,
    ForbiddenRole,
    InvalidTransition,
    NoticePeriodNotOver,
    SelfApprovalForbidden,
    ValidationFailed,
)

OPEN = ("submitted", "public_notice")
STATES = ("submitted", "public_notice", "approved", "rejected", "withdrawn")
ACTIONS = ("record_notice", "approve", "reject", "withdraw")

# Rule 9: submitted → public_notice → approved | rejected; withdrawn by its submitter before a
# decision; nothing else.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("submitted", "record_notice"): "public_notice",
    ("public_notice", "approve"): "approved",
    ("public_notice", "reject"): "rejected",
    ("submitted", "withdraw"): "withdrawn",
    ("public_notice", "withdraw"): "withdrawn",
}

NOTICE_MIN_DAYS = 7
NOTICE_MAX_DAYS = 30


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the rules need to know about one request."""

    status: str
    route: str  # district | city
    district_code: str | None
    submitted_by: str
    notice_ends_on: date | None = None


def transition(state: str, action: str) -> str:
    """The state after `action`, or INVALID_TRANSITION naming the state and the action."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        raise InvalidTransition(
            f"cannot {action.replace('_', ' ')} a request that is {state.replace('_', ' ')}"
            + (f"; allowed: {', '.join(allowed)}" if allowed else "; it is closed"),
            state=state, action=action, allowed_actions=allowed,
        ) from None


def route_for(requested: float, default_cap: float) -> str:
    """Up to the default cap: the district's simplified procedure; above it: the city's decision."""
    return "district" if requested <= default_cap else "city"


def check_submitter(actor: Actor, district_code: str | None) -> None:
    """A district officer of the parcel's district, or the bureau, submits."""
    if actor.role not in ("district_officer", "bureau"):
        raise ForbiddenRole(f"role {actor.role} may not submit plot-ratio requests; needs district_officer or bureau",
                            role=actor.role, allowed_roles=["district_officer", "bureau"])
    if actor.role == "district_officer" and actor.district_code != district_code:
        raise ForbiddenDistrict(
            f"{actor.username} works in district {actor.district_code}; the parcel is in district {district_code}",
            your_district=actor.district_code, district_code=district_code)


def check_notice_recorder(actor: Actor, facts: RequestFacts) -> None:
    """The notice is recorded by a district officer of the district or by the bureau."""
    check_submitter(actor, facts.district_code)


def check_decider(actor: Actor, facts: RequestFacts) -> None:
    """District route: an officer of that district other than the submitter, or the bureau.
    City route: the bureau only. Never the submitter (four eyes)."""
    if facts.route == "city" and actor.role != "bureau":
        raise ForbiddenRole("city-route requests (above the default cap) are decided by the bureau only",
                            role=actor.role, route="city", allowed_roles=["bureau"])
    if actor.role not in ("district_officer", "bureau"):
        raise ForbiddenRole(f"role {actor.role} may not decide plot-ratio requests",
                            role=actor.role, allowed_roles=["district_officer", "bureau"])
    if actor.role == "district_officer" and actor.district_code != facts.district_code:
        raise ForbiddenDistrict(
            f"{actor.username} works in district {actor.district_code}; the request is in district "
            f"{facts.district_code}", your_district=actor.district_code, district_code=facts.district_code)
    if actor.username.lower() == facts.submitted_by.lower():
        raise SelfApprovalForbidden(f"{actor.username} submitted this request and may not decide it",
                                    submitted_by=facts.submitted_by)


def check_withdrawer(actor: Actor, facts: RequestFacts) -> None:
    """Only the submitter withdraws; a district officer of another district is refused for the district
    first, as by every other step of rule 9 (SPEC §4: officers act on their own district's requests)."""
    if actor.role == "district_officer" and actor.district_code != facts.district_code:
        raise ForbiddenDistrict(
            f"{actor.username} works in district {actor.district_code}; the request is in district "
            f"{facts.district_code}", your_district=actor.district_code, district_code=facts.district_code)
    if actor.username.lower() != facts.submitted_by.lower():
        raise ForbiddenRole(f"only the submitter ({facts.submitted_by}) may withdraw this request",
                            submitted_by=facts.submitted_by)


def notice_days(starts_on: date, ends_on: date) -> int:
    """Length of a public notice in days, both ends included."""
    return (ends_on - starts_on).days + 1


def check_notice_period(starts_on: date, ends_on: date) -> None:
    """A public notice lasts 7–30 days; its dates may lie in the past (a notice already held)."""
    days = notice_days(starts_on, ends_on)
    if not NOTICE_MIN_DAYS <= days <= NOTICE_MAX_DAYS:
        raise ValidationFailed(
            f"a public notice lasts {NOTICE_MIN_DAYS}–{NOTICE_MAX_DAYS} days; {starts_on} to {ends_on} is {days}",
            days=days, min_days=NOTICE_MIN_DAYS, max_days=NOTICE_MAX_DAYS)


def check_notice_over(facts: RequestFacts, today: date) -> None:
    """A decision needs the notice period to have ended (from the day after its last day)."""
    ends = facts.notice_ends_on
    if ends is None or today <= ends:
        decide_from = None if ends is None else ends + timedelta(days=1)
        raise NoticePeriodNotOver(
            "no public notice has been recorded" if ends is None
            else f"the public notice runs until {ends}; a decision can be taken from {decide_from}",
            notice_ends_on=None if ends is None else ends.isoformat(), today=today.isoformat(),
            decide_from=None if decide_from is None else decide_from.isoformat())


def age_days(submitted_on: date, today: date) -> int:
    """How long a request has waited, in days (never negative, also under a configured past `today`)."""
    return max(0, (today - submitted_on).days)
