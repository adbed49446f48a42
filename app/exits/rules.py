"""Rule 8: who opens and completes exit cases, for which contracts, and where land goes after. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.auth.permissions import Actor, require_role
from app.errors import InvalidTransition, ValidationFailed

METHODS = ("recovery", "buyback", "transfer")
# Priority when a contract is a candidate for several reasons (the case names the first).
REASONS = ("failed_rectification", "repeated_below_bottom_line", "expired", "idle_land", "repeated_class_d")


@dataclass(frozen=True, slots=True)
class Candidacy:
    """Why a contract is an exit candidate, with the evaluations that show it."""

    reason: str
    evidence: tuple[int, ...]


def check_open(actor: Actor, contract_id: int, status: str, candidacies: Sequence[Candidacy], method: str,
               opened_on: date, signed_on: date, today: date) -> None:
    """Only the bureau opens an exit case, only for a contract that is an exit candidate."""
    require_role(actor, ("bureau",), "open exit cases")
    if method not in METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(METHODS)}", field="method")
    if status == "exiting":
        raise InvalidTransition(f"contract {contract_id} already has an open exit case",
                                contract_id=contract_id, status=status)
    if status not in ("active", "rectification"):
        raise InvalidTransition(f"contract {contract_id} is {status}; only a contract in force can exit",
                                contract_id=contract_id, status=status)
    if not candidacies:
        raise InvalidTransition(
            f"contract {contract_id} is not an exit candidate (rule 7: repeated below-bottom-line results, a "
            "failed rectification, an expired term, idle land or 亩均 class D in consecutive years)",
            contract_id=contract_id, status=status)
    if not signed_on <= opened_on <= today:
        raise ValidationFailed(f"opened_on must lie between the signing ({signed_on.isoformat()}) and today",
                               field="opened_on")


def ordered(candidacies: Sequence[Candidacy]) -> tuple[list[str], list[int]]:
    """Reasons in priority order and the union of their evidence (ascending ids)."""
    reasons = sorted({c.reason for c in candidacies}, key=REASONS.index)
    evidence = sorted({e for c in candidacies for e in c.evidence})
    return reasons, evidence


def check_complete(actor: Actor, case_id: int, status: str, method: str, completed_on: date, opened_on: date,
                   has_transfer_contract: bool, today: date) -> None:
    """Only the bureau completes an open case; a transfer names the new enterprise's contract."""
    require_role(actor, ("bureau",), "complete exit cases")
    if status != "open":
        raise InvalidTransition(f"exit case {case_id} is {status}", exit_case_id=case_id, status=status)
    if not opened_on <= completed_on <= today:
        raise ValidationFailed(f"completed_on must lie between the opening ({opened_on.isoformat()}) and "
                               "today", field="completed_on")
    if method == "transfer" and not has_transfer_contract:
        raise ValidationFailed("completing a transfer needs `transfer_contract`: the new enterprise's "
                               "contract", field="transfer_contract")
    if method != "transfer" and has_transfer_contract:
        raise ValidationFailed(f"a {method} case takes no transfer_contract", field="transfer_contract")


def parcel_status_after_exit(method: str) -> str:
    """Recovery and buyback return the land (`recovered`); a transfer supplies it to the new enterprise."""
    return "supplied" if method == "transfer" else "recovered"
