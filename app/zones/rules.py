"""Rule 3 over what depends on a zone or a reference parcel. Pure: facts in, breaches or a DomainError out.

A plot ratio is admitted against the zone a parcel lies in (its own lower cap, its minimum) and, above the
default cap, against the reference parcel it names. Both can change under the parcel: a zone's `far_cap`
lowered or `far_min` raised (or a zone created, moved or retired so that a parcel falls into another
zone), a reference parcel's land use, plot ratio or geometry changed, or the reference deleted. Such a
change is refused when it would leave a parcel outside rule 3, listing every parcel it would leave there,
unless the bureau gives an override (SPEC §5 `override`: decision_ref and reason), which is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.errors import FarCapExceeded, ValidationFailed
from app.parcels.rules import Override, Reference, ZoneFacts, base_cap, num, reference_qualifies
from app.policy import Policy

LISTED = 50  # dependants named one by one in a refusal (all are counted, and their ids all listed)


@dataclass(frozen=True, slots=True)
class Dependant:
    """A current industrial/R&D parcel whose plot ratio rests on a zone or on a reference parcel."""

    id: int
    code: str
    land_use: str
    plot_ratio: float | None
    zone: ZoneFacts | None = None  # the zone it lies in after the change (zone changes)
    distance_m: float | None = None  # to the reference parcel as changed (reference changes)
    same_zone: bool = False  # in the reference parcel's zone, as changed


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A zone write: its dependants are the parcels it touches, each checked against its zone after it."""

    zone_id: int
    zone_code: str


@dataclass(frozen=True, slots=True)
class ReferenceChange:
    """A write of a reference parcel: its land use and plot ratio after it (`land_use` None: deleted)."""

    parcel_id: int
    code: str
    land_use: str | None
    plot_ratio: float | None


@dataclass(frozen=True, slots=True)
class Breach:
    """One parcel a change would leave outside rule 3."""

    parcel_id: int
    code: str
    plot_ratio: float
    why: str
    kind: str  # cap (FAR_CAP_EXCEEDED) | minimum (VALIDATION_ERROR)

    def as_dict(self) -> dict[str, object]:
        """The JSON form in a refusal."""
        return {"id": self.parcel_id, "code": self.code, "plot_ratio": self.plot_ratio, "why": self.why}


def _zone_breach(d: Dependant, policy: Policy) -> Breach | None:
    if d.plot_ratio is None or d.zone is None:
        return None
    zone = d.zone
    cap = base_cap(d.land_use, zone, policy)
    # A zone's own cap is not lifted by reference parcels (rule 3, app/parcels/rules.py check_far).
    if cap.source == "zone" and cap.value is not None and d.plot_ratio > cap.value:
        return Breach(d.id, d.code, d.plot_ratio,
                      f"plot ratio {num(d.plot_ratio)} above cap {num(cap.value)} of zone {zone.code}", "cap")
    if zone.far_min is not None and d.plot_ratio < zone.far_min:
        return Breach(d.id, d.code, d.plot_ratio,
                      f"plot ratio {num(d.plot_ratio)} below the minimum {num(zone.far_min)} of zone {zone.code}",
                      "minimum")
    return None


def _reference_breach(change: ReferenceChange, d: Dependant, policy: Policy) -> Breach | None:
    default = policy.default_far_cap(d.land_use)
    if d.plot_ratio is None or default is None or d.plot_ratio <= default:
        return None  # within the default cap: the parcel does not rest on its reference
    if change.land_use is None:
        return Breach(d.id, d.code, d.plot_ratio, f"its reference parcel {change.parcel_id} would be deleted", "cap")
    ref = Reference(change.parcel_id, change.code, change.land_use, change.plot_ratio,
                    d.distance_m if d.distance_m is not None else float("inf"), d.same_zone)
    if reference_qualifies(ref, d.plot_ratio, policy):
        return None
    if change.land_use not in ("office", "commercial"):
        why = f"its reference parcel {change.parcel_id} would become {change.land_use} land"
    elif change.plot_ratio is None or change.plot_ratio < d.plot_ratio:
        why = (f"its reference parcel {change.parcel_id} would have plot ratio {num(change.plot_ratio)}, "
               f"below its {num(d.plot_ratio)}")
    else:
        why = (f"its reference parcel {change.parcel_id} would be {ref.distance_m:.0f} m away, beyond "
               f"{policy.far_reference_distance_m:.0f} m and outside its zone")
    return Breach(d.id, d.code, d.plot_ratio, why, "cap")


def check_dependants(change: ZoneChange | ReferenceChange, dependants: Sequence[Dependant], policy: Policy,
                     override: Override | None, actor_is_bureau: bool) -> list[Breach]:
    """Rule 3 for every parcel that rests on the changed zone or reference parcel. Returns the breaches
    a bureau override lifts (to be audited); raises FAR_CAP_EXCEEDED (a cap or a reference) or
    VALIDATION_ERROR (only zone minimums, as a parcel's own write below a minimum is) listing them."""
    found = [b for d in dependants if (b := (
        _zone_breach(d, policy) if isinstance(change, ZoneChange) else _reference_breach(change, d, policy)))]
    if not found:
        return []
    if override is not None and actor_is_bureau:
        return found
    found.sort(key=lambda b: b.parcel_id)
    first = found[0]
    more = f" (and {len(found) - 1} more parcels)" if len(found) > 1 else ""
    numbers: dict[str, Any] = {"count": len(found), "parcel_ids": [b.parcel_id for b in found],
                                  "dependants": [b.as_dict() for b in found[:LISTED]]}
    if isinstance(change, ZoneChange):
        what = f"zone {change.zone_code}"
        numbers.update(zone_id=change.zone_id, zone_code=change.zone_code)
    else:
        what = f"reference parcel {change.parcel_id} ({change.code})"
        numbers.update(reference_id=change.parcel_id, reference_code=change.code)
    detail = (f"the change of {what} would leave parcel {first.parcel_id} ({first.code}) outside rule 3: "
              f"{first.why}{more}; change those parcels first, or give a bureau override with a decision_ref")
    if any(b.kind == "cap" for b in found):
        raise FarCapExceeded(detail, **numbers)
    raise ValidationFailed(detail, **numbers)
