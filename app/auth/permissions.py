"""Who may do what (SPEC §4): pure checks over an Actor, shared by REST, WFS-T, import and the web page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import ForbiddenDistrict, ForbiddenRole, Unauthenticated

ROLES = ("admin", "bureau", "district_officer", "evaluator", "viewer")
DISTRICT_ROLES = frozenset({"district_officer", "evaluator"})
AUDIT_READERS = frozenset({"bureau", "admin", "viewer"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user as the rules see it."""

    id: int
    username: str
    role: str
    district_code: str | None = None

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


def queue_district(actor: Actor, district_code: str | None, contract_id: int | None = None) -> str | None:
    """Evaluations are routed to the district: a district officer's or evaluator's evaluation queue is their
    own district's unless they ask for another district or a contract (reads are open to every role)."""
    if district_code is None and contract_id is None and actor.role in DISTRICT_ROLES:
        return actor.district_code
    return district_code
