"""Who may do what (SPEC §4): pure checks over an Actor, shared by REST, WFS-T, import and the web page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import ForbiddenDistrict, ForbiddenRole, Unauthenticated

ROLES = ("admin", "bureau", "district_officer", "evaluator", "viewer", "org_manager", "data_provider")
DISTRICT_ROLES = frozenset({"district_officer", "evaluator"})
AUDIT_READERS = frozenset({"bureau", "admin", "viewer"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user as the rules see it."""

    id: int
    username: str
    role: str
    district_code: str | None = None
    # org_manager: the responsible organisation it works for; data_provider: the department it delivers for.
    organisation_id: int | None = None
    source: str | None = None

    @property
    def is_bureau(self) -> bool:
        """Municipal planning bureau: everything, overrides, city-route decisions, exit cases."""
        return self.role == "bureau"


# Anonymous reader when LANDCYCLE_PUBLIC_READ=true: may read, never write.
ANONYMOUS = Actor(id=0, username="anonymous", role="anonymous")


def require_role(actor: Actor, roles: Iterable[str], action: str) -> None:
    """Refuse with FORBIDDEN_ROLE unless the actor has one of `roles` (UNAUTHENTICATED if anonymous)."""
    allowed = tuple(roles)
    if actor.role == "anonymous":
        raise Unauthenticated(f"{action} needs an authenticated user")
    if actor.role not in allowed:
        raise ForbiddenRole(f"role {actor.role} may not {action}; needs {' or '.join(allowed)}",
                            role=actor.role, allowed_roles=list(allowed))


def require_district(actor: Actor, district_codes: Iterable[str | None], action: str) -> None:
    """District-scoped roles act only inside their own district (FORBIDDEN_DISTRICT)."""
    if actor.role not in DISTRICT_ROLES:
        return
    for code in district_codes:
        if code != actor.district_code:
            raise ForbiddenDistrict(
                f"{actor.username} works in district {actor.district_code} and may not {action} "
                f"in district {code or '(none)'}",
                your_district=actor.district_code, district_code=code,
            )


def require_parcel_editor(actor: Actor, district_codes: Iterable[str | None], action: str) -> None:
    """Parcels are edited by the bureau, or by a district officer inside their district."""
    require_role(actor, ("bureau", "district_officer"), action)
    require_district(actor, district_codes, action)


def require_override_rights(actor: Actor) -> None:
    """Rule 1: only a bureau user may override the planning lock."""
    require_role(actor, ("bureau",), "override the planning lock")


def require_audit_reader(actor: Actor) -> None:
    """SPEC §5: the audit log is read by bureau, admin and viewer only."""
    require_role(actor, sorted(AUDIT_READERS), "read the audit log")


CITY_READERS = frozenset({"admin", "bureau", "viewer"})


def read_scope(actor: Actor, what: str) -> str | None:
    """SPEC §4: the one district whose contracts, evaluations (measured figures), plot-ratio requests, exit
    candidates and cases and the reports on them `actor` may read, or None for city-wide (bureau, admin,
    viewer). The public (LANDCYCLE_PUBLIC_READ) never reads them: UNAUTHENTICATED; a role not named here
    reads nothing (FORBIDDEN_ROLE), so a role added later is refused until it is given a scope."""
    if actor.role == "anonymous":
        raise Unauthenticated(f"log in to {what}: the public reads parcels, zones and districts only")
    if actor.role in CITY_READERS:
        return None
    if actor.role in DISTRICT_ROLES:
        if actor.district_code is None:  # never city-wide by accident (app/auth/service.py refuses this user)
            raise ForbiddenDistrict(f"{actor.username} has no district and may not {what}",
                                    your_district=None, district_code=None)
        return actor.district_code
    raise ForbiddenRole(f"role {actor.role} may not {what}", role=actor.role,
                        allowed_roles=sorted(CITY_READERS | DISTRICT_ROLES | {"org_manager"}))


def may_read(actor: Actor, what: str) -> bool:
    """Whether `contract_scope` lets `actor` read confidential data at all (city-wide, in some district, or
    its organisation's)."""
    try:
        contract_scope(actor, None, what)
    except (Unauthenticated, ForbiddenRole, ForbiddenDistrict):
        return False
    return True


def require_read_district(actor: Actor, district_code: str | None, what: str) -> str | None:
    """The district a list of confidential data is restricted to (its SQL filter): the one asked for, or
    for a district officer or evaluator its own when it asks none; another district is FORBIDDEN_DISTRICT.
    None: city-wide."""
    scope = read_scope(actor, what)
    if scope is None:
        return district_code
    if district_code is not None and district_code != scope:
        raise ForbiddenDistrict(f"{actor.username} works in district {scope} and may not {what} of district "
                                f"{district_code}", your_district=scope, district_code=district_code)
    return scope


def require_registry_reader(actor: Actor, what: str) -> None:
    """Enterprises and responsible organisations are registry data (names, USCC, industry, kind; no
    figures), read city-wide by every role that reads district data; the public does not read them, since
    they are what contracts and figures are looked up by (UNAUTHENTICATED). An org_manager reads them as
    a district officer does."""
    contract_scope(actor, None, what)


def require_readable(actor: Actor, district_code: str | None, what: str) -> None:
    """One confidential resource (a contract, an evaluation, a request, an exit case) lying in
    `district_code`: FORBIDDEN_DISTRICT outside a district-scoped actor's district."""
    scope = read_scope(actor, what)
    if scope is not None and district_code != scope:
        raise ForbiddenDistrict(f"{actor.username} works in district {scope} and may not {what} of district "
                                f"{district_code or '(none)'}", your_district=scope, district_code=district_code)


# ------------------------------------------------------------------ responsible organisations (SPEC §1, §4)
ORG_ROLES = frozenset({"org_manager"})


@dataclass(frozen=True, slots=True)
class Scope:
    """Which contracts (and their evaluations, figures, requests, exit candidates, ratings) a reader
    sees: city-wide (both None), one district's, or one responsible organisation's (谁提出、谁管理), which
    a district filter may narrow further."""

    district_code: str | None = None
    organisation_id: int | None = None


def contract_scope(actor: Actor, district_code: str | None, what: str) -> Scope:
    """`require_read_district` for every contract reader: an org_manager reads its organisation's
    contracts in any district (a district asked for narrows them); the others as `require_read_district`."""
    if actor.role in ORG_ROLES:
        if actor.organisation_id is None:  # never city-wide by accident (app/auth/service.py refuses this user)
            raise ForbiddenRole(f"{actor.username} has no organisation and may not {what}",
                                role=actor.role, allowed_roles=sorted(CITY_READERS | DISTRICT_ROLES))
        return Scope(district_code, actor.organisation_id)
    return Scope(require_read_district(actor, district_code, what))


def require_in_scope(actor: Actor, district_code: str | None, organisation_id: int | None, what: str) -> None:
    """One contract's resource (its evaluation, request, exit case) in `district_code`, managed by
    `organisation_id`: FORBIDDEN_DISTRICT outside a district reader's district, FORBIDDEN_ROLE for an
    org_manager of another organisation."""
    if actor.role in ORG_ROLES:
        if actor.organisation_id is None or organisation_id != actor.organisation_id:
            raise ForbiddenRole(f"{actor.username} manages organisation {actor.organisation_id}'s contracts and "
                                f"may not {what} of organisation {organisation_id}", role=actor.role,
                                your_organisation=actor.organisation_id, organisation_id=organisation_id)
        return
    require_readable(actor, district_code, what)


def require_contract_worker(actor: Actor, district_code: str | None, organisation_id: int | None,
                            action: str) -> None:
    """A write on one contract's evaluation (recording a result, following up a rectification): the bureau,
    a district officer or evaluator of its district, or an org_manager of the organisation managing it."""
    require_role(actor, ("bureau", "district_officer", "evaluator", "org_manager"), action)
    require_in_scope(actor, district_code, organisation_id, action)
