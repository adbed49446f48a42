"""Pure rules of contracts: terms (rule 5's numbers), the supply lock (rule 2), one holding contract per
parcel (CONTRACT_CONFLICT, renewals), the industrial access standard (rule 4), and what signing does to
the parcel. Facts in, a decision or a DomainError out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.calendar import add_months, add_years
from app.contracts.indicators import CATALOGUE, EFFICIENCY
from app.errors import (
    AccessStandardNotMet,
    ContractConflict,
    ContractInRectification,
    InvalidTransition,
    LockupSupply,
    ValidationFailed,
)
from app.evaluations.bottom_line import PeerGroup, exact
from app.policy import INDUSTRIAL_USES, Policy

# A renewal (SPEC rule 2) follows its predecessor with no gap: signed at the latest this many days after
# the predecessor's expires_on; later, the term expired without renewal: an exit candidate (rule 7).
RENEWAL_GRACE_DAYS = 1

# Parcel statuses from which signing a new_supply or transfer contract supplies the land (SPEC §3 rule 8).
SUPPLIABLE = frozenset({"planned", "recovered", "exiting"})


@dataclass(frozen=True, slots=True)
class Terms:
    """The dates and periods a contract's schedule is made from (rule 5)."""

    signed_on: date
    term_years: int
    evaluation_interval_years: int
    commissioning_years: int
    start_by: date


@dataclass(frozen=True, slots=True)
class ParcelFacts:
    """What the contract rules look at on the parcel."""

    id: int
    code: str
    land_use: str
    tier: str | None
    legacy_zone: str | None
    status: str
    district_code: str | None


@dataclass(frozen=True, slots=True)
class Holding:
    """The contract that currently holds the parcel (status active, rectification or exiting)."""

    id: int
    code: str
    status: str
    enterprise_id: int
    expires_on: date


def terms(policy: Policy, signed_on: date, term_years: int | None = None, interval: int | None = None,
          commissioning: int | None = None, start_by: date | None = None) -> Terms:
    """Terms with SPEC defaults filled in and ranges checked (VALIDATION_ERROR)."""
    t = Terms(
        signed_on=signed_on,
        term_years=policy.term_years_default if term_years is None else term_years,
        evaluation_interval_years=policy.evaluation_interval_default if interval is None else interval,
        commissioning_years=policy.commissioning_years_default if commissioning is None else commissioning,
        start_by=start_by if start_by is not None else add_months(signed_on, policy.start_by_default_months),
    )
    low, high = policy.term_years_range
    if not low <= t.term_years <= high:
        raise ValidationFailed(f"term_years must be {low}–{high}, not {t.term_years}", field="term_years")
    low, high = policy.evaluation_interval_range
    if not low <= t.evaluation_interval_years <= high:
        raise ValidationFailed(f"evaluation_interval_years must be {low}–{high} (rule 5), not "
                               f"{t.evaluation_interval_years}", field="evaluation_interval_years")
    if not 1 <= t.commissioning_years <= 10:
        raise ValidationFailed(f"commissioning_years must be 1–10, not {t.commissioning_years}",
                               field="commissioning_years")
    if t.start_by < t.signed_on:
        raise ValidationFailed("start_by (agreed construction start) cannot precede signed_on",
                               field="start_by")
    return t


def check_targets(targets: Mapping[str, float]) -> None:
    """Every indicator is in the catalogue, with a finite target ≥ 0."""
    for code, target in targets.items():
        if code not in CATALOGUE:
            raise ValidationFailed(f"unknown indicator {code!r}; the catalogue has {', '.join(CATALOGUE)}",
                                   field="indicators")
        if not (target >= 0 and target != float("inf")):
            raise ValidationFailed(f"target of {code} must be a finite number ≥ 0", field="indicators")


def check_contract_land(parcel: ParcelFacts) -> None:
    """Contracts are for industrial/R&D land."""
    if parcel.land_use not in INDUSTRIAL_USES:
        raise ValidationFailed(f"parcel {parcel.id} is {parcel.land_use} land; contracts are for "
                               "industrial or R&D land", parcel_id=parcel.id, land_use=parcel.land_use)


def check_supply_lock(kind: str, parcel: ParcelFacts) -> None:
    """Rule 2, the supply lock: no new supply on fragments or legacy-198 land (renewal and transfer go on)."""
    if kind != "new_supply":
        return
    why = ("it is a fragment (in no industrial base or community)" if parcel.tier == "fragment"
           else "it is legacy-198 land (outside the concentrated construction area, to reduce)"
           if parcel.legacy_zone == "198" else None)
    if why:
        raise LockupSupply(
            f"no new supply on parcel {parcel.id} ({parcel.code}): {why}; new industrial projects are "
            "locked into industrial bases and communities; only renewal or transfer of an existing "
            "contract is allowed",
            parcel_id=parcel.id, tier=parcel.tier, legacy_zone=parcel.legacy_zone, kind=kind,
            allowed_kinds=["renewal", "transfer"],
        )


def check_holding(kind: str, enterprise_id: int, signed_on: date, parcel_id: int, holding: Holding | None,
                  had_contract: bool, policy: Policy, transfer_case_id: int | None = None) -> Holding | None:
    """One holding contract per parcel, and rule 2's exceptions only for what continues a contract.
    Returns the contract a renewal takes over (it then expires), or None; raises CONTRACT_CONFLICT /
    CONTRACT_IN_RECTIFICATION / VALIDATION_ERROR otherwise.

    A `renewal` continues the contract holding the parcel, of the same enterprise, in force or just
    expired with no gap (signed at the latest RENEWAL_GRACE_DAYS after its `expires_on`); a `transfer`
    is signed by completing an open exit case of method transfer on the parcel (`transfer_case_id`, rule
    8). Neither is new supply, so rules 2 and 4 do not apply to them; anything else must be `new_supply`."""
    if kind in ("renewal", "transfer") and not had_contract:
        raise ValidationFailed(f"a {kind} continues an existing contract, and parcel {parcel_id} has "
                               "never had one", parcel_id=parcel_id, kind=kind)
    if kind == "transfer":
        _check_transfer(parcel_id, holding, transfer_case_id)
        return None
    if holding is None:
        if kind == "renewal":
            raise ContractConflict(
                f"a renewal continues the contract holding parcel {parcel_id} (in force or just expired), and "
                "none holds it: its last contract ended; sign a new_supply contract, which meets rules 2 and 4",
                parcel_id=parcel_id, kind=kind, allowed_kinds=["new_supply"])
        return None
    if kind == "renewal" and holding.status == "rectification":
        raise ContractInRectification(
            f"contract {holding.id} ({holding.code}) is in rectification and cannot be renewed before it "
            "passes",
            contract_id=holding.id, status=holding.status)
    window_opens = add_months(holding.expires_on, -policy.expiry_evaluation_months)
    latest = holding.expires_on + timedelta(days=RENEWAL_GRACE_DAYS)
    if (kind == "renewal" and holding.status == "active" and holding.enterprise_id == enterprise_id
            and window_opens <= signed_on <= latest):
        return holding
    why = ""
    if kind == "renewal" and holding.enterprise_id != enterprise_id:
        why = "; a renewal is for the same enterprise"
    elif kind == "renewal" and holding.status == "active" and signed_on > latest:
        why = (f"; a renewal follows its predecessor without a gap, signed by {latest.isoformat()} (it "
               f"expired on {holding.expires_on.isoformat()}); after that the land is an exit candidate "
               "(rule 7) and new supply meets rules 2 and 4")
    elif kind == "renewal" and holding.status == "active":
        why = f"; a renewal may be signed from {window_opens.isoformat()} (12 months before it expires)"
    raise ContractConflict(
        f"parcel {parcel_id} is held by contract {holding.id} ({holding.code}, {holding.status}){why}",
        parcel_id=parcel_id, contract_id=holding.id, status=holding.status,
    )


def _check_transfer(parcel_id: int, holding: Holding | None, transfer_case_id: int | None) -> None:
    """Rule 8: a transfer hands the land of an exit case of method transfer to the new enterprise."""
    if holding is not None:
        raise ContractConflict(
            f"parcel {parcel_id} is held by contract {holding.id} ({holding.code}, {holding.status}); a transfer "
            "is signed by completing an exit case of method transfer (POST /api/v1/exit-cases/{id}/complete)",
            parcel_id=parcel_id, contract_id=holding.id, status=holding.status, kind="transfer")
    if transfer_case_id is None:
        raise ContractConflict(
            f"a transfer continues a contract through an exit case of method transfer (rule 8), and parcel "
            f"{parcel_id} has none open; sign a new_supply contract, which meets rules 2 and 4",
            parcel_id=parcel_id, kind="transfer", allowed_kinds=["new_supply"])


def check_term_change(contract_id: int, expires_on: date, signed_on: date, term_years: int,
                      today: date) -> None:
    """A contract past its expiry is not extended by amending its term or signing date: it is renewed (a
    `renewal` contract) or exits (rule 7), INVALID_TRANSITION otherwise."""
    if expires_on > today or add_years(signed_on, term_years) == expires_on:
        return
    raise InvalidTransition(
        f"contract {contract_id} expired on {expires_on.isoformat()}; its term is not extended after expiry: "
        "sign a renewal (kind renewal, the same enterprise) instead",
        contract_id=contract_id, expires_on=expires_on.isoformat(), **_EXTENSION)


# INVALID_TRANSITION's numbers for an extension after expiry (`from` is a Python keyword).
_EXTENSION: dict[str, Any] = {"from": "expired", "to": "active", "allowed": ["renewal"]}


def check_access_standard(kind: str, targets: Mapping[str, float], groups: Mapping[str, PeerGroup]) -> None:
    """Rule 4: a new_supply contract commits at least the bottom line on each efficiency indicator."""
    if kind != "new_supply":
        return
    failures = []
    for code in EFFICIENCY:
        group = groups[code]
        committed = targets.get(code)
        # In decimal: committing exactly the bottom line as printed passes (app/evaluations/bottom_line.py).
        if committed is None or exact(committed) < group.bottom_line:
            failures.append((code, committed, group))
    if not failures:
        return
    code, committed, group = failures[0]
    where = {"district": f"the {group.industry_code} contracts of district {group.district_code}",
             "city": f"the {group.industry_code} contracts city-wide",
             "floor": "the configured floor (fewer than the minimum of peers city-wide)"}[group.source]
    what = "no target" if committed is None else f"{committed:g}"
    raise AccessStandardNotMet(
        f"{code}: {what} committed, below the bottom line {group.bottom_line.normalize():f} "
        f"{CATALOGUE[code].unit} of {where} (n = {group.n})",
        indicator=code, committed=committed, bottom_line=float(group.bottom_line), source=group.source,
        peer_group=group.as_dict()["group"], n=group.n, mean=group.as_dict()["mean"],
        failures=[{"indicator": c, "committed": t, **g.as_dict()} for c, t, g in failures],
    )


def parcel_status_after_signing(kind: str, parcel_status: str) -> str | None:
    """A new_supply or transfer contract supplies land that was not in use; None leaves the status."""
    if kind in ("new_supply", "transfer") and parcel_status in SUPPLIABLE:
        return "supplied"
    return None
