"""Rule 6: an evaluation result — attainment per contract indicator, ratio to the bottom line per
efficiency indicator, and the outcome. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.contracts.indicators import CATALOGUE, EFFICIENCY
from app.errors import ValidationFailed
from app.evaluations.bottom_line import PeerGroup, exact

PASS = "pass"
BELOW = "below_bottom_line"


@dataclass(frozen=True, slots=True)
class Result:
    """A scored result as it is frozen into the evaluation record."""

    attainment: dict[str, dict[str, Any]]
    ratios: dict[str, float | None]
    peer_groups: dict[str, dict[str, Any]]
    outcome: str


def check_measurements(targets: Mapping[str, float], measurements: Mapping[str, float]) -> None:
    """Every contract indicator and every efficiency indicator measured; catalogue codes only; values finite
    and ≥ 0 (VALIDATION_ERROR names what is wrong)."""
    unknown = sorted(set(measurements) - set(CATALOGUE))
    if unknown:
        raise ValidationFailed(f"unknown indicator(s) {', '.join(unknown)}; the catalogue has "
                               f"{', '.join(CATALOGUE)}", field="measurements", unknown=unknown)
    missing = sorted((set(targets) | set(EFFICIENCY)) - set(measurements))
    if missing:
        raise ValidationFailed(f"measurements missing for {', '.join(missing)} (every contract indicator "
                               "and every efficiency indicator is measured)", field="measurements",
                               missing=missing)
    for code, value in measurements.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValidationFailed(f"measurement of {code} must be a finite number ≥ 0", field="measurements")


def score(targets: Mapping[str, float], measurements: Mapping[str, float],
          groups: Mapping[str, PeerGroup]) -> Result:
    """Attainment respects each indicator's comparator; ratio = measured ÷ bottom line; the outcome is
    `pass` when every ratio ≥ 1.0 and every target is met, else `below_bottom_line`."""
    attainment: dict[str, dict[str, Any]] = {}
    for code, target in sorted(targets.items()):
        ind = CATALOGUE[code]
        measured = float(measurements[code])
        attainment[code] = {"target": float(target), "measured": measured, "comparator": ind.comparator,
                            "unit": ind.unit, "met": ind.met(measured, float(target))}
    # Ratios in decimal (app/evaluations/bottom_line.py): measuring exactly the bottom line is a ratio of
    # exactly 1 and a pass; the frozen ratio is that decimal as a JSON number.
    exact_ratios: dict[str, Decimal | None] = {}
    for code in EFFICIENCY:
        line = groups[code].bottom_line
        # A bottom line of 0 (a floor configured to 0) is met by any value.
        exact_ratios[code] = exact(measurements[code]) / line if line > 0 else None
    ratios = {code: None if r is None else float(r) for code, r in exact_ratios.items()}
    ok = (all(r is None or r >= 1 for r in exact_ratios.values())
          and all(a["met"] for a in attainment.values()))
    frozen = {code: groups[code].as_dict() for code in EFFICIENCY}
    return Result(attainment, ratios, frozen, PASS if ok else BELOW)
