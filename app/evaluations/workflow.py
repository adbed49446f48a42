"""Rule 7: what a result does to its contract — rectification, return to active, exit candidate. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.calendar import add_years
from app.errors import InvalidTransition
from app.evaluations.scoring import BELOW, PASS
from app.policy import Policy

IN_FORCE = ("active", "rectification")


@dataclass(frozen=True, slots=True)
class Previous:
    """The contract's latest completed result before this one."""

    id: int
    outcome: str
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The contract's state after a result and what it sets in motion."""

    status: str
    rectify_by: date | None
    consequence: str  # none | rectification | restored | exit_candidate
    exit_reason: str | None = None
    evidence: tuple[int, ...] = ()  # below-bottom-line results in a row, ending with this one
    rectification_due_on: date | None = None  # a rectification evaluation to schedule
    cancel_rectification: bool = False  # a pending rectification evaluation is no longer needed


def consequence(status: str, rectify_by: date | None, stage: str, outcome: str, evaluation_id: int,
                evaluated_on: date, previous: Previous | None, policy: Policy) -> Decision:
    """Rule 7. A first below-bottom-line result on an active contract opens rectification (rectify_by =
    evaluated date + 1–2 years, with a rectification evaluation due then); a pass in rectification
    returns the contract to active; a second consecutive below-bottom-line result — or a failed
    rectification evaluation — makes it an exit candidate (it stays in rectification until the bureau
    opens an exit case or a later pass restores it)."""
    if status not in IN_FORCE:
        raise InvalidTransition(f"a contract in status {status} takes no evaluation results",
                                status=status, allowed_statuses=list(IN_FORCE))
    if outcome == PASS:
        if status == "rectification":
            return Decision("active", None, "restored", cancel_rectification=True)
        return Decision(status, rectify_by, "none")
    if outcome != BELOW:
        raise ValueError(outcome)
    run: Sequence[int] = previous.evidence if previous is not None and previous.outcome == BELOW else ()
    evidence = (*run, evaluation_id)
    if stage == "rectification":
        return Decision("rectification", rectify_by or evaluated_on, "exit_candidate", "failed_rectification",
                        evidence)
    if run:
        return Decision("rectification", rectify_by or add_years(evaluated_on, policy.rectification_years),
                        "exit_candidate", "repeated_below_bottom_line", evidence)
    if status == "rectification":
        # Below again while rectifying, after a result that was not below (e.g. none recorded since):
        # the rectification continues towards its own re-evaluation.
        return Decision("rectification", rectify_by, "none", evidence=evidence)
    due = add_years(evaluated_on, policy.rectification_years)
    return Decision("rectification", due, "rectification", evidence=evidence, rectification_due_on=due)
