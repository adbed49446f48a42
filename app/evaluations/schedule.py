"""Rule 5: the evaluations a contract gets at signing, and how a change of its dates re-plans the
pending ones. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from app.calendar import add_months, add_years
from app.contracts.rules import Terms

SCHEDULED_STAGES = ("commissioning", "periodic", "expiry")  # rectification evaluations come from rule 7


@dataclass(frozen=True, slots=True)
class Due:
    """One planned evaluation."""

    stage: str
    seq: int
    due_on: date


def expires_on(t: Terms) -> date:
    """Signing date + term (PostgreSQL derives the same column)."""
    return add_years(t.signed_on, t.term_years)


def plan(t: Terms, expiry_months: int = 12) -> list[Due]:
    """Rule 5: commissioning at S+C; periodic every I years after commissioning while before the expiry
    evaluation; expiry 12 months before S+T.

    A term too short for that (commissioning not before the expiry evaluation, i.e. T < C + 1 year) gets
    one evaluation, the commissioning one, in the expiry evaluation's place (S+T−12 months), so every
    contract is evaluated once it is in use and none twice on one day. When even that date is not after
    the signing day (a one-year term: the expiry window would open on the signing day), the commissioning
    evaluation is due halfway through the term: no evaluation is ever due on or before signing."""
    expiry = add_months(expires_on(t), -expiry_months)
    commissioning = add_years(t.signed_on, t.commissioning_years)
    if commissioning >= expiry:
        if expiry <= t.signed_on:
            expiry = add_months(t.signed_on, t.term_years * 6)
        return [Due("commissioning", 1, expiry)]
    dues = [Due("commissioning", 1, commissioning)]
    k = 1
    step = t.evaluation_interval_years
    while (due := add_years(t.signed_on, t.commissioning_years + k * step)) < expiry:
        dues.append(Due("periodic", k, due))
        k += 1
    dues.append(Due("expiry", 1, expiry))
    return dues


@dataclass(frozen=True, slots=True)
class Existing:
    """A scheduled evaluation already stored."""

    id: int
    stage: str
    seq: int
    due_on: date
    done: bool  # completed or cancelled


@dataclass
class Replan:
    """What a change of dates does to the stored schedule."""

    move: list[tuple[int, date]] = field(default_factory=list)  # (evaluation id, new due date)
    add: list[Due] = field(default_factory=list)
    cancel: list[int] = field(default_factory=list)


def replan(new: Sequence[Due], existing: Sequence[Existing]) -> Replan:
    """Keep completed evaluations; move pending ones to their new dates, add what is new, cancel pending
    ones the new plan no longer has. Rectification evaluations (rule 7) are not the schedule's."""
    out = Replan()
    by_key = {(e.stage, e.seq): e for e in existing if e.stage in SCHEDULED_STAGES}
    wanted = {(d.stage, d.seq): d for d in new}
    for key, due in wanted.items():
        have = by_key.get(key)
        if have is None:
            out.add.append(due)
        elif not have.done and have.due_on != due.due_on:
            out.move.append((have.id, due.due_on))
    for key, have in by_key.items():
        if key not in wanted and not have.done:
            out.cancel.append(have.id)
    return out
