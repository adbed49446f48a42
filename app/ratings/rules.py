"""亩均 ratings (亩均论英雄 / 资源集约利用综合评价): a year's A–D classes of enterprises from their delivered
figures over their land. Pure: no I/O.

Every indicator is "higher is better" and computed from an enterprise's figures of the year (`INDICATORS`).
Within a group (a district, or the whole city) an indicator's benchmark is `benchmark_factor` × the
group's mean of it over the rated enterprises; an enterprise's component is value ÷ benchmark, at most
`cap`, and its score Σ weight × component (Jiangsu and Zhejiang practice: score = value ÷ benchmark ×
weight). An enterprise without a value of a weighted indicator gets the group's mean component of it (the
Zhejiang rule for firms without emissions data). Enterprises on less than `min_land_mu` of land, or with
no value of any weighted indicator, are not rated. Classes by rank share within the group, as the SPEC §5
efficiency report: A the top 20 %, B to 60 %, C to 95 %, D the rest; equal scores share a class.

Exact numbers: Decimal throughout (28 significant digits); scores are rounded half-up to 4 decimals
(the column's precision) before they are ranked, and indicator values are kept rounded the same way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from app.measurements.figures import Derived
from app.policy import Policy
from app.reports.efficiency import CLASSES, class_indices

# The rated indicators (numerator ÷ denominator × scale; "land_mu" is the enterprise's land in mu).
INDICATORS: dict[str, Derived] = {
    "tax_per_mu": Derived("tax_paid", "land_mu"),                          # 亩均税收, 万元/亩
    "value_added_per_mu": Derived("value_added", "land_mu"),               # 亩均增加值, 万元/亩
    "output_per_mu": Derived("output_value", "land_mu"),                   # 亩均销售收入, 万元/亩
    "value_added_per_energy": Derived("value_added", "energy_use"),        # 单位能耗增加值, 万元/tce
    "value_added_per_emissions": Derived("value_added", "emissions"),      # 单位排放增加值, 万元/kg
    "tax_per_energy": Derived("tax_paid", "energy_use"),                   # 单位能耗税收, 万元/tce
    "labour_productivity": Derived("value_added", "jobs"),                 # 全员劳动生产率, 万元/人
    "rnd_intensity": Derived("rnd_spending", "output_value", Decimal(100)),  # R&D 占营业收入, %
}
GROUPINGS = ("district", "city")
# Why an enterprise has no class (rating.unrated_reason).
LAND_BELOW_THRESHOLD = "land_below_threshold"
NO_FIGURES = "no_figures"
FOUR = Decimal("0.0001")


def rounded(value: Decimal) -> Decimal:
    """Half-up to 4 decimals: how scores and indicator values are kept."""
    return value.quantize(FOUR, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Profile:
    """The rating numbers of a Policy, parsed and checked."""

    weights: dict[str, Decimal]
    cutoffs: tuple[float, float, float]
    benchmark_factor: Decimal
    cap: Decimal
    min_land_mu: Decimal
    grouping: str
    exit_after_d_years: int
    rectification_classes: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """What a rating run keeps of the policy it was made with."""
        return {"weights": {k: float(v) for k, v in self.weights.items()},
                "cutoffs": dict(zip(("A", "B", "C"), self.cutoffs, strict=True)),
                "benchmark_factor": float(self.benchmark_factor), "cap": float(self.cap),
                "min_land_mu": float(self.min_land_mu), "grouping": self.grouping,
                "exit_after_d_years": self.exit_after_d_years,
                "rectification_classes": list(self.rectification_classes)}


def parse_weights(text: str) -> dict[str, Decimal]:
    """"tax_per_mu:45,output_per_mu:35,tax_per_energy:20" → {indicator: weight}; ValueError on an unknown
    indicator, a repeated one, a weight that is not a number ≥ 0, or no positive weight at all."""
    out: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, number = (s.strip() for s in part.partition(":"))
        if not sep or name not in INDICATORS:
            raise ValueError(f"rating weight {part!r}: write indicator:weight with an indicator among "
                             f"{', '.join(INDICATORS)}")
        if name in out:
            raise ValueError(f"rating weight of {name} given twice")
        try:
            weight = Decimal(number)
        except ArithmeticError:
            raise ValueError(f"rating weight of {name} is not a number: {number!r}") from None
        if not weight.is_finite() or weight < 0:
            raise ValueError(f"rating weight of {name} must be a number ≥ 0")
        out[name] = weight
    if not any(w > 0 for w in out.values()):
        raise ValueError("rating weights need at least one positive weight")
    return out


def parse_classes(text: str) -> tuple[str, ...]:
    """"C,D" → ("C", "D"); ValueError on anything but A–D."""
    found = tuple(dict.fromkeys(c.strip().upper() for c in text.split(",") if c.strip()))
    if any(c not in CLASSES for c in found):
        raise ValueError(f"rating classes must be among A, B, C, D: {text!r}")
    return found


def profile(policy: Policy) -> Profile:
    """The policy's rating numbers; ValueError when they do not make a rating."""
    a, b, c = policy.rating_cutoffs
    if not a < b < c:
        raise ValueError("rating cut-offs must rise: A < B < C (e.g. 0.20, 0.60, 0.95)")
    if policy.rating_grouping not in GROUPINGS:
        raise ValueError(f"rating grouping must be one of {', '.join(GROUPINGS)}")
    return Profile(parse_weights(policy.rating_weights), policy.rating_cutoffs,
                   Decimal(str(policy.rating_benchmark_factor)), Decimal(str(policy.rating_cap)),
                   Decimal(str(policy.rating_min_land_mu)), policy.rating_grouping,
                   policy.rating_exit_after_d_years, parse_classes(policy.rating_rectification_classes))


def indicators(figures: Mapping[str, Decimal], land_mu: Decimal) -> dict[str, Decimal]:
    """Every indicator an enterprise's figures give (none where a figure is missing or a denominator 0)."""
    out: dict[str, Decimal] = {}
    for code, d in INDICATORS.items():
        top = figures.get(d.numerator)
        bottom = land_mu if d.denominator == "land_mu" else figures.get(d.denominator or "")
        if top is not None and bottom is not None and bottom > 0:
            out[code] = top / bottom * d.scale
    return out


@dataclass(frozen=True, slots=True)
class Subject:
    """One enterprise to rate: its land (mu), its group (district code; ignored when rating city-wide)
    and its figures of the year."""

    enterprise_id: int
    land_mu: Decimal
    group: str | None
    figures: Mapping[str, Decimal]


@dataclass(slots=True)
class Rated:
    """One enterprise's rating: indicator values, components, score, rank within its group (1 = best; equal
    scores share one), the group's size, class A–D, or why it is not rated."""

    enterprise_id: int
    group: str | None
    indicators: dict[str, Decimal]
    components: dict[str, Decimal] = field(default_factory=dict)
    score: Decimal | None = None
    rank: int | None = None
    group_size: int | None = None
    cls: str | None = None
    unrated_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A group's mean and benchmark of one weighted indicator, and the component an enterprise without a
    value of it gets (the mean of the others' components; 0 when none has a value)."""

    mean: Decimal | None
    benchmark: Decimal | None
    missing_component: Decimal


def rate(subjects: Sequence[Subject], prof: Profile) -> tuple[list[Rated], dict[str | None, dict[str, Benchmark]]]:
    """Ratings of `subjects` (same order) and each group's benchmarks."""
    out: list[Rated] = []
    groups: dict[str | None, list[Rated]] = defaultdict(list)
    for s in subjects:
        values = indicators(s.figures, s.land_mu)
        r = Rated(s.enterprise_id, s.group if prof.grouping == "district" else None, values)
        if s.land_mu < prof.min_land_mu or s.land_mu <= 0:
            r.unrated_reason = LAND_BELOW_THRESHOLD
        elif not any(k in values for k in prof.weights):
            r.unrated_reason = NO_FIGURES
        else:
            groups[r.group].append(r)
        out.append(r)
    benchmarks = {g: _rate_group(members, prof) for g, members in groups.items()}
    return out, benchmarks


def _rate_group(members: list[Rated], prof: Profile) -> dict[str, Benchmark]:
    marks: dict[str, Benchmark] = {}
    for code in prof.weights:
        present = [m for m in members if code in m.indicators]
        if not present:
            marks[code] = Benchmark(None, None, Decimal(0))
            for m in members:
                m.components[code] = Decimal(0)
            continue
        mean = sum((m.indicators[code] for m in present), Decimal(0)) / len(present)
        bench = prof.benchmark_factor * mean
        for m in present:  # a group whose values are all 0 has nothing to measure against: 0 each
            m.components[code] = min(m.indicators[code] / bench, prof.cap) if bench > 0 else Decimal(0)
        missing = sum((m.components[code] for m in present), Decimal(0)) / len(present)
        for m in members:
            m.components.setdefault(code, missing)
        marks[code] = Benchmark(mean, bench, missing)
    for m in members:
        m.score = rounded(sum((w * m.components[k] for k, w in prof.weights.items()), Decimal(0)))
    # 4-decimal scores convert to floats in the same order, so the efficiency report's ranking fits.
    scores = np.array([float(m.score or 0) for m in members], dtype=float)
    better = np.searchsorted(np.sort(-scores), -scores, side="left")
    for m, k, b in zip(members, class_indices(scores, prof.cutoffs), better, strict=True):
        m.rank, m.group_size, m.cls = int(b) + 1, len(members), CLASSES[int(k)]
    return marks


def consecutive_d(classes_by_year: Mapping[int, str | None], years: int) -> bool:
    """The exit consequence: rated D in each of the last `years` rated years, consecutive calendar years
    ending with its latest rated year (0: never). A year without a class (not rated) breaks the run."""
    if years <= 0 or not classes_by_year:
        return False
    last = max(classes_by_year)
    return all(classes_by_year.get(last - k) == "D" for k in range(years))
