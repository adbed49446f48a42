"""Pure rules over plain data: tier and overlap (SPEC §2), planning lock (rule 1), plot-ratio cap (rule 3),
the plot ratio of contracted land (rule 9, SPEC §4) and who sets a legacy zone (SPEC §4).

No database, no HTTP: facts in, a decision or a DomainError out. REST, WFS-T, import and the
plot-ratio request workflow all call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import (
    FarCapExceeded,
    ForbiddenRole,
    LockupPlanning,
    NotFound,
    ParcelOverlap,
    PlotRatioRequestRequired,
    ValidationFailed,
)
from app.policy import INDUSTRIAL_USES, Policy


@dataclass(frozen=True, slots=True)
class ZoneFacts:
    """The zone that covers the majority of a parcel."""

    id: int
    code: str
    kind: str  # base | community
    advanced_manufacturing: bool
    far_cap: float | None = None
    far_min: float | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    """What geometry and land use make of a parcel."""

    tier: str | None
    zone_id: int | None
    planning_locked: bool


def classify(land_use: str, zone: ZoneFacts | None) -> Classification:
    """SPEC §2 + rule 1: tier is the majority zone's kind (else `fragment`) for industrial/rnd land, null
    for other uses; a base parcel in an advanced-manufacturing zone is planning-locked."""
    if land_use not in INDUSTRIAL_USES:
        return Classification(tier=None, zone_id=zone.id if zone else None, planning_locked=False)
    if zone is None:
        return Classification(tier="fragment", zone_id=None, planning_locked=False)
    locked = zone.kind == "base" and zone.advanced_manufacturing
    return Classification(tier=zone.kind, zone_id=zone.id, planning_locked=locked)


def num(value: float | None) -> str:
    """A plot ratio as people write it: 2.0, 2.5, 2.25."""
    if value is None:
        return "none"
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


# ---------------------------------------------------------------------------------------------- SPEC §2
def overlap_refusal(other: str, overlap_m2: float, policy: Policy, **numbers: Any) -> ParcelOverlap | None:
    """SPEC §2: industrial/R&D parcels may overlap each other by at most the tolerance. The refusal of an
    overlap beyond it, naming the other one (`other`: "parcel 7 (P-7)", "row 3 (A-3)"), or None."""
    tolerance = policy.overlap_tolerance_m2
    if overlap_m2 <= tolerance:
        return None
    return ParcelOverlap(f"overlaps {other} by {overlap_m2:.1f} m² "
                         f"(industrial/R&D parcels may overlap by at most {tolerance:g} m²)",
                         **numbers, overlap_m2=round(overlap_m2, 2), tolerance_m2=tolerance)


# ---------------------------------------------------------------------------------------------- rule 1
@dataclass(frozen=True, slots=True)
class Override:
    """A bureau decision that lifts the planning lock for one change."""

    decision_ref: str
    reason: str


@dataclass(frozen=True, slots=True)
class LockState:
    """The planning-lock facts of one parcel, before or after a change."""

    parcel_id: int
    planning_locked: bool
    zone_id: int | None
    land_use: str


def lock_breaches(before: LockState, after: LockState | None) -> str | None:
    """Why a change would take a locked parcel out of its lock (None when it does not).

    Rule 1: a locked parcel may not change its use away from industrial/rnd, leave its zone (by its own
    geometry or the zone's), lose the zone's advanced-manufacturing designation, or be deleted."""
    if not before.planning_locked:
        return None
    if after is None:
        return "it would be deleted"
    if after.land_use not in INDUSTRIAL_USES:
        return f"its land use would change to {after.land_use}"
    if after.zone_id != before.zone_id:
        return f"it would leave zone {before.zone_id}"
    if not after.planning_locked:
        return f"zone {before.zone_id} would no longer hold it as base land for advanced manufacturing"
    return None


def check_planning_lock(changes: list[tuple[LockState, LockState | None]], override: Override | None,
                        actor_is_bureau: bool) -> list[tuple[int, str]]:
    """Rule 1 over one write (a parcel edit touches one parcel, a zone edit many).

    Returns the breaches that an override lifts (to be audited as overridden); raises LOCKUP_PLANNING
    when there are breaches and no valid override. Only the caller decides who may override: a
    non-bureau override is refused by `require_override_rights` before this is reached."""
    breaches = [(b.parcel_id, why) for b, a in changes if (why := lock_breaches(b, a))]
    if not breaches:
        return []
    if override is not None and actor_is_bureau:
        return breaches
    first_id, first_why = breaches[0]
    more = f" (and {len(breaches) - 1} more parcels)" if len(breaches) > 1 else ""
    raise LockupPlanning(
        f"parcel {first_id} is planning-locked base land for advanced manufacturing: {first_why}{more}; "
        "only a bureau override with a decision_ref may do this",
        parcel_ids=[pid for pid, _ in breaches[:50]], reasons=[why for _, why in breaches[:50]],
    )


# ---------------------------------------------------------------------------------------------- rule 3
REFERENCE_USES = ("office", "commercial")  # the land uses a reference parcel may have


@dataclass(frozen=True, slots=True)
class Reference:
    """An office/commercial parcel considered as the reference for a plot ratio above the default cap."""

    id: int
    code: str
    land_use: str
    plot_ratio: float | None
    distance_m: float
    same_zone: bool


@dataclass(frozen=True, slots=True)
class Cap:
    """The cap a parcel's plot ratio is held to, and where it comes from."""

    value: float | None
    source: str | None  # default | zone | reference
    reference_id: int | None = None


def base_cap(land_use: str, zone: ZoneFacts | None, policy: Policy) -> Cap:
    """Rule 3 without a reference: the default cap, or the zone's lower one."""
    default = policy.default_far_cap(land_use)
    if default is None:
        return Cap(None, None)
    if zone is not None and zone.far_cap is not None and zone.far_cap < default:
        return Cap(zone.far_cap, "zone")
    return Cap(default, "default")


def reference_qualifies(reference: Reference, requested: float, policy: Policy) -> bool:
    """Rule 3: office/commercial, plot ratio ≥ requested, within the distance or in the same zone."""
    return (
        reference.land_use in REFERENCE_USES
        and reference.plot_ratio is not None
        and reference.plot_ratio >= requested
        and (reference.same_zone or reference.distance_m <= policy.far_reference_distance_m)
    )


def check_far(land_use: str, requested: float | None, zone: ZoneFacts | None, policy: Policy,
              reference: Reference | None = None, nearest: Reference | None = None) -> Cap:
    """Rule 3: the cap that admits `requested`, or FAR_CAP_EXCEEDED naming cap, request and the nearest
    candidate reference. `reference` is the one the client named; `nearest` the best one on the map."""
    cap = base_cap(land_use, zone, policy)
    if requested is None or cap.value is None:
        return cap
    if zone is not None and zone.far_min is not None and requested < zone.far_min:
        raise ValidationFailed(
            f"plot ratio {num(requested)} below the minimum {num(zone.far_min)} of zone {zone.code}",
            far_min=zone.far_min, requested=requested, zone_id=zone.id,
        )
    if requested <= cap.value:
        return cap
    label = "R&D" if land_use == "rnd" else land_use
    if cap.source == "zone":
        raise FarCapExceeded(
            f"plot ratio {num(requested)} above cap {num(cap.value)} of zone {zone.code if zone else ''} "
            f"for {label} land; a zone's own cap is not lifted by reference parcels",
            cap=cap.value, cap_source="zone", requested=requested, nearest_reference=None,
        )
    if reference is not None and reference_qualifies(reference, requested, policy):
        return Cap(reference.plot_ratio, "reference", reference.id)
    why = ""
    if reference is not None:
        why = (f"; reference parcel {reference.id} does not qualify (needs office/commercial land with plot "
               f"ratio ≥ {num(requested)} within {policy.far_reference_distance_m:.0f} m or in the same zone)")
    elif nearest is not None:
        where = "same zone" if nearest.same_zone else f"{nearest.distance_m:.0f} m away"
        ratio = num(nearest.plot_ratio)
        hint = ("; name it as the reference parcel" if reference_qualifies(nearest, requested, policy)
                else "")
        why = (f"; nearest candidate reference: parcel {nearest.id} ({nearest.land_use}, plot ratio {ratio}, "
               f"{where}){hint}")
    else:
        why = "; no office or commercial parcel is a candidate reference"
    raise FarCapExceeded(
        f"plot ratio {num(requested)} above cap {num(cap.value)} for {label} land{why}",
        cap=cap.value, cap_source=cap.source, requested=requested,
        nearest_reference=None if nearest is None else {
            "id": nearest.id, "code": nearest.code, "land_use": nearest.land_use,
            "plot_ratio": nearest.plot_ratio, "distance_m": round(nearest.distance_m, 1),
            "same_zone": nearest.same_zone, "qualifies": reference_qualifies(nearest, requested, policy),
        },
    )


@dataclass(frozen=True, slots=True)
class FarFacts:
    """Rule 3's facts of one write, as `app.parcels.far.far_facts` gathers them for every write path: the
    land use, the requested ratio and the zone; when the ratio is above the base cap, the reference the
    client named (`reference_id`, and `reference`: its facts, None when no current parcel has that id) or,
    when none is named, the best candidate on the map (`nearest`)."""

    land_use: str
    requested: float | None
    zone: ZoneFacts | None
    reference_id: int | None = None
    reference: Reference | None = None
    nearest: Reference | None = None
    # The field the client named the reference in: a parcel's `plot_ratio_reference_id` (SPEC §5), a
    # plot-ratio request's `reference_parcel_id`; a refusal names the field that was sent.
    reference_field: str = "plot_ratio_reference_id"


def reference_needed(land_use: str, requested: float | None, zone: ZoneFacts | None, policy: Policy) -> bool:
    """Whether rule 3 looks at reference parcels for this ratio: only above the base cap."""
    cap = base_cap(land_use, zone, policy)
    return requested is not None and cap.value is not None and requested > cap.value


def check_far_facts(facts: FarFacts, policy: Policy, *, adopt_nearest_reference: bool = False) -> Cap:
    """Rule 3 over gathered facts: a named reference must be a current parcel (NOT_FOUND), then `check_far`.

    Without a named reference the nearest qualifying candidate only gives the refusal its hint ("name it
    as the reference parcel"): a parcel write records the reference its client names. A plot-ratio request
    (rule 9, the city route) instead takes that candidate as its reference (`adopt_nearest_reference`)."""
    reference, nearest, requested = facts.reference, facts.nearest, facts.requested
    if requested is not None and reference_needed(facts.land_use, requested, facts.zone, policy):
        if facts.reference_id is not None and reference is None:
            missing: dict[str, Any] = {facts.reference_field: facts.reference_id}
            raise NotFound(f"reference parcel {facts.reference_id} does not exist", **missing)
        if (adopt_nearest_reference and reference is None and nearest is not None
                and reference_qualifies(nearest, requested, policy)):
            reference, nearest = nearest, None
    return check_far(facts.land_use, requested, facts.zone, policy, reference=reference, nearest=nearest)


# ---------------------------------------------------------------------------------------------- rule 9
@dataclass(frozen=True, slots=True)
class ContractInForce:
    """The contract in force on a parcel (effective status active, rectification or exiting)."""

    id: int
    code: str
    status: str


def ratio_changes(before: float | None, after: float | None) -> bool:
    """Whether a write changes a plot ratio as stored (numeric(5,2): two decimals)."""
    if before is None or after is None:
        return before is not after
    return round(before, 2) != round(after, 2)


def check_contracted_plot_ratio(parcel_id: int, before: float | None, after: float | None,
                                contract: ContractInForce | None, override: Override | None,
                                actor_is_bureau: bool) -> bool:
    """SPEC §4 and rule 9: the plot ratio of a parcel under a contract in force changes only through an
    approved plot-ratio request. True when a bureau override lifts this (to be audited); raises
    PLOT_RATIO_REQUEST_REQUIRED otherwise. Land with no contract keeps direct edits within rule 3."""
    if contract is None or not ratio_changes(before, after):
        return False
    if override is not None and actor_is_bureau:
        return True
    if contract.status == "active":
        how = ("submit a plot-ratio request (POST /api/v1/plot-ratio-requests): public notice, then a "
               "decision by a second officer of the district or by the bureau")
    else:
        how = (f"no plot-ratio request is taken while it is in {contract.status} (rule 9); it changes once "
               "the contract is active again")
    raise PlotRatioRequestRequired(
        f"parcel {parcel_id} is under contract {contract.code} ({contract.status}): its plot ratio "
        f"({num(before)} → {num(after)}) changes only through rule 9's plot-ratio request procedure; {how}; "
        "or a bureau override with a decision_ref",
        parcel_id=parcel_id, contract_id=contract.id, contract_status=contract.status, current=before,
        requested=after, procedure="plot_ratio_request", procedure_path="/api/v1/plot-ratio-requests",
    )


# ---------------------------------------------------------------------------------------------- SPEC §4
def check_legacy_zone(before: str | None, after: str | None, actor_is_bureau: bool) -> None:
    """SPEC §4: the legacy zone (104/195/198, which rule 2 reads) is the bureau's to set or change
    (`before` is None for a new parcel)."""
    if actor_is_bureau or after == before:
        return
    raise ForbiddenRole(
        f"the legacy zone is the bureau's to set (rule 2 reads it): {before or 'none'} → {after or 'none'}",
        field="legacy_zone", role_needed="bureau", allowed_roles=["bureau"],
    )
