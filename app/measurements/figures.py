"""The figures departments deliver and what is derived from them. Pure: no I/O.

Departments know absolute annual figures of an enterprise (the tax it paid, the energy it used), not
ratios per mu of one contract. A figure is delivered for an enterprise (by USCC) or for one contract (by
its code); an evaluation measures its contract's indicators (SPEC §5 catalogue) from the figures of its
year: a contract's own figure when delivered, else its enterprise's share by land area among the
enterprise's contracts in force (`share`). Ratios of two figures (energy per value added) are the same
for the enterprise and any of its contracts; the share matters for the per-mu indicators only through
the area it divides by, so a per-mu value is the enterprise's total over its total land."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

# SPEC §1: 15 mu = 1 ha, so one mu is 10,000 / 15 m² (666.67 m² rounded).
M2_PER_MU = Decimal(10_000) / Decimal(15)


@dataclass(frozen=True, slots=True)
class Figure:
    """A delivered figure: its unit and the department that delivers it."""

    code: str
    unit: str
    source: str
    zh: str
    en: str


FIGURES: dict[str, Figure] = {f.code: f for f in (
    Figure("tax_paid", "万元/yr", "tax", "实缴税收", "tax paid"),
    Figure("output_value", "万元/yr", "statistics", "工业总产值（营业收入）", "output value (revenue)"),
    Figure("value_added", "万元/yr", "statistics", "工业增加值", "industrial value added"),
    Figure("rnd_spending", "万元/yr", "statistics", "研发经费支出", "R&D spending"),
    Figure("jobs", "persons", "statistics", "年平均职工人数", "average employees"),
    Figure("fixed_investment", "万元", "statistics", "累计固定资产投资", "fixed-asset investment to date"),
    Figure("energy_use", "tce/yr", "energy", "综合能耗（等价值）", "energy use"),
    Figure("emissions", "kg/yr", "environment", "主要污染物排放量", "main pollutant emissions"),
)}
SOURCES = tuple(dict.fromkeys(f.source for f in FIGURES.values()))  # tax, statistics, energy, environment


def figures_of(source: str) -> tuple[str, ...]:
    """The figures one department delivers (a data_provider's scope, SPEC §4)."""
    return tuple(code for code, f in FIGURES.items() if f.source == source)


@dataclass(frozen=True, slots=True)
class Derived:
    """A contract indicator (SPEC §5) as computed from figures: numerator ÷ denominator × scale; the
    denominator `land_mu` is the contract's (or its share of the enterprise's) land in mu."""

    numerator: str
    denominator: str | None
    scale: Decimal = Decimal(1)


INDICATORS: dict[str, Derived] = {
    "investment_intensity": Derived("fixed_investment", "land_mu"),
    "output_per_mu": Derived("output_value", "land_mu"),
    "tax_per_mu": Derived("tax_paid", "land_mu"),
    "energy_per_value_added": Derived("energy_use", "value_added"),
    "emissions_per_value_added": Derived("emissions", "value_added"),
    "rnd_intensity": Derived("rnd_spending", "output_value", Decimal(100)),
    "jobs": Derived("jobs", None),
}


def inputs_of(indicator: str) -> tuple[str, ...]:
    """The figures an indicator is computed from."""
    d = INDICATORS[indicator]
    return tuple(x for x in (d.numerator, d.denominator) if x is not None and x != "land_mu")


def derive(indicator: str, figures: Mapping[str, Decimal], land_mu: Decimal) -> Decimal | None:
    """One indicator from a subject's figures over `land_mu` of land; None when a figure is missing or a
    denominator is zero (nothing to divide by is no measurement)."""
    d = INDICATORS[indicator]
    top = figures.get(d.numerator)
    if top is None:
        return None
    if d.denominator is None:
        return top * d.scale
    bottom = land_mu if d.denominator == "land_mu" else figures.get(d.denominator)
    if bottom is None or bottom <= 0:
        return None
    return top / bottom * d.scale


def share(figures: Mapping[str, Decimal], fraction: Decimal) -> dict[str, Decimal]:
    """An enterprise's figures apportioned to one contract holding `fraction` of its land."""
    return {code: value * fraction for code, value in figures.items()}


def land_mu(area_m2: Decimal) -> Decimal:
    """m² on the ellipsoid (SPEC §2) in mu."""
    return area_m2 / M2_PER_MU
