"""The life cycle of industrial land (SPEC §3 rules 7–8, §4): which status follows which, and who moves it.

Pure: a table of transitions and a check over plain data. Every write of a parcel's `status` names its
cause; the parcel service refuses what the table does not hold (INVALID_TRANSITION with from/to/allowed).

- `signing`: a new_supply or transfer contract supplies land not in use (app/contracts);
- `edit`: the district (an officer of the parcel's district, or the bureau) records the construction start
  and then the start of operation, each with its date (`status_on`);
- `consequence`: rule 7 puts the parcel into `rectification` and back (app/evaluations);
- `exit`: rule 8 opens an exit case (`exiting`) and completes it (`recovered`, or a transfer's `supplied`).

The life cycle governs industrial and R&D land, the land that is supplied under contracts; the status of a
reference parcel (office, commercial, other) only describes it. A parcel entering the life cycle (created,
or its use changed to industrial/R&D) enters it `planned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.errors import InvalidTransition, ValidationFailed
from app.policy import INDUSTRIAL_USES

STATUSES = ("planned", "supplied", "under_construction", "operating", "rectification", "exiting", "recovered")
START = "planned"

SIGNING, EDIT, CONSEQUENCE, EXIT = "signing", "edit", "consequence", "exit"
# Rule 9's approval: changes the plot ratio, never the status.
REQUEST = "plot_ratio_request"
CAUSES = (SIGNING, EDIT, CONSEQUENCE, EXIT, REQUEST)

_IN_USE = ("supplied", "under_construction", "operating")

# (from, to) -> the cause that may make the move.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("planned", "supplied"): SIGNING,
    ("recovered", "supplied"): SIGNING,  # land recovered by an exit is supplied again
    ("exiting", "supplied"): SIGNING,  # rule 8: a transfer supplies it to the new enterprise
    ("supplied", "under_construction"): EDIT,  # the construction start (clears rule 7's idle_land)
    ("under_construction", "operating"): EDIT,  # the start of operation
    **{(s, "rectification"): CONSEQUENCE for s in _IN_USE},
    **{("rectification", s): CONSEQUENCE for s in _IN_USE},  # a pass restores the status it had
    **{(s, "exiting"): EXIT for s in (*_IN_USE, "rectification")},
    ("exiting", "recovered"): EXIT,
}

# A dated edit: what the date records (stored in the audit row of the change).
DATED = {"under_construction": "construction start", "operating": "start of operation"}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A write's status facts: before (None for a new parcel) and after, with the uses that decide whether
    the life cycle governs the parcel."""

    before_status: str | None
    before_land_use: str | None
    after_status: str
    after_land_use: str


def governed(land_use: str | None) -> bool:
    """Whether the life cycle governs a parcel of this use (industrial and R&D land)."""
    return land_use in INDUSTRIAL_USES


def allowed(from_status: str | None, cause: str) -> list[str]:
    """The statuses `cause` may move a parcel to from `from_status` (None: entering the life cycle)."""
    if from_status is None:
        return [START]
    return [to for (frm, to), by in TRANSITIONS.items() if frm == from_status and by == cause]


def who_moves(from_status: str, to_status: str) -> str | None:
    """The cause that makes this move, or None when the life cycle has no such step."""
    return TRANSITIONS.get((from_status, to_status))


def check_transition(change: StatusChange, cause: str, status_on: date | None = None,
                     today: date | None = None, not_before: date | None = None) -> None:
    """Refuse a status write the life cycle does not allow for this cause (INVALID_TRANSITION with from,
    to, allowed and who may make the move); a district's dated step needs its date (`status_on`: on or
    before today, not before `not_before`, the contract's signing)."""
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}")
    if not governed(change.after_land_use):
        if status_on is not None:
            raise ValidationFailed("status_on dates a life-cycle step of industrial or R&D land",
                                   field="status_on")
        return
    frm = change.before_status if governed(change.before_land_use) else None
    to = change.after_status
    if frm == to:
        if status_on is not None:
            raise ValidationFailed(f"status_on dates a status change, and the status stays {to}",
                                   field="status_on")
        return
    if frm is None:
        if to != START:
            raise InvalidTransition(
                f"industrial and R&D land enters the life cycle as {START}; {to} follows from signing a "
                "contract, the district's construction and operation dates, or rules 7–8",
                **_moves(None, to, [START]))
        return
    by = who_moves(frm, to)
    if by != cause:
        raise InvalidTransition(
            f"status {frm} → {to}: {_why(frm, to, by)}",
            **_moves(frm, to, allowed(frm, cause)), moved_by=by)
    if cause == EDIT:
        _check_date(to, status_on, today, not_before)
    elif status_on is not None:
        raise ValidationFailed("status_on dates the district's construction and operation steps only",
                               field="status_on")


def _moves(frm: str | None, to: str | None, allowed_to: list[str]) -> dict[str, Any]:
    """INVALID_TRANSITION's numbers (`from` is a keyword in Python, so they travel as a dict)."""
    return {"from": frm, "to": to, "allowed": allowed_to}


def _why(frm: str, to: str, by: str | None) -> str:
    if by is None:
        return "the life cycle has no such step"
    return {
        SIGNING: "only signing a new_supply or transfer contract supplies land",
        EDIT: "the district records this step on the parcel, with its date (status_on)",
        CONSEQUENCE: "only evaluation results move land into and out of rectification (rule 7)",
        EXIT: "only an exit case moves land to exiting and recovered (rule 8)",
    }[by]


def _check_date(to: str, status_on: date | None, today: date | None, not_before: date | None) -> None:
    what = DATED[to]
    if status_on is None:
        raise ValidationFailed(f"status {to} needs the date of the {what} (status_on)", field="status_on",
                               to=to)
    if today is not None and status_on > today:
        raise ValidationFailed(f"the {what} ({status_on.isoformat()}) lies after today ({today.isoformat()})",
                               field="status_on", to=to)
    if not_before is not None and status_on < not_before:
        raise ValidationFailed(f"the {what} ({status_on.isoformat()}) precedes the contract's signing "
                               f"({not_before.isoformat()})", field="status_on", to=to)


def check_retire(parcel_id: int, status: str, had_contract: bool) -> None:
    """Land that has ever been under contract is closed by an exit case (rule 8), never deleted: its
    contracts, evaluations and exit history stay tied to it (INVALID_TRANSITION)."""
    if not had_contract:
        return
    raise InvalidTransition(
        f"parcel {parcel_id} has been under contract and is not deleted; close it by an exit case "
        "(POST /api/v1/exit-cases, rule 8) instead",
        **_moves(status, None, []), parcel_id=parcel_id)
