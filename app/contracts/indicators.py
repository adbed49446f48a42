"""The indicator catalogue of SPEC §5: unit and comparator of each code a contract may commit to. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Indicator:
    """One catalogue entry. `efficiency` indicators are held to the bottom line (rules 4 and 6); `green`
    ones make the green component of the efficiency score."""

    code: str
    unit: str
    comparator: str  # ">=" (at least the target) or "<=" (at most the target)
    efficiency: bool = False
    green: bool = False

    def met(self, measured: float, target: float) -> bool:
        """Attainment: the measured value against the target, respecting the comparator (rule 6)."""
        return measured >= target if self.comparator == ">=" else measured <= target


CATALOGUE: dict[str, Indicator] = {i.code: i for i in (
    Indicator("investment_intensity", "万元/亩", ">="),
    Indicator("output_per_mu", "万元/亩/yr", ">=", efficiency=True),
    Indicator("tax_per_mu", "万元/亩/yr", ">=", efficiency=True),
    Indicator("energy_per_value_added", "tce/万元", "<=", green=True),
    Indicator("emissions_per_value_added", "kg/万元", "<=", green=True),
    Indicator("rnd_intensity", "% of revenue", ">="),
    Indicator("jobs", "persons", ">="),
)}
CODES = tuple(CATALOGUE)
EFFICIENCY = tuple(code for code, i in CATALOGUE.items() if i.efficiency)  # output_per_mu, tax_per_mu
GREEN = tuple(code for code, i in CATALOGUE.items() if i.green)
