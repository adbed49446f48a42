"""The rule numbers of SPEC §2–§3 and §5 as plain data, handed to the pure rule functions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import Field, dataclass, field, fields
from datetime import date
from typing import Any

INDUSTRIAL_USES = frozenset({"industrial", "rnd"})

# Rule 5: the term a contract may have and its evaluation interval, in years.
TERM_YEARS = (1, 50)
EVALUATION_INTERVAL_YEARS = (3, 5)


@dataclass(frozen=True, slots=True)
class Setting:
    """How operators set a Policy field: by `LANDCYCLE_<NAME>` (a tuple by one name per member), within
    bounds (each member of a tuple within the same); app/settings.py turns each into a setting."""

    names: tuple[str, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None


def setting(default: Any, *, names: tuple[str, ...] = (), ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None) -> Any:
    """A Policy field with its SPEC default that operators may set (see `Setting`)."""
    return field(default=default, metadata={"setting": Setting(names, ge, gt, le, lt)})


@dataclass(frozen=True, slots=True)
class Policy:
    """Caps, distances and thresholds; defaults are SPEC.md's, written here once. The fields made with
    `setting` are the operators' to override (LANDCYCLE_FAR_CAP_INDUSTRIAL …, app/settings.py)."""

    # The date taken as today when one is configured (LANDCYCLE_TODAY: demos, tests); None: Shanghai's.
    today: date | None = None
    # Rule 3 caps and the reference parcel's distance; SPEC §2 overlap tolerance, tier majority, extent.
    far_cap_industrial: float = setting(2.0)
    far_cap_rnd: float = setting(3.0)
    far_reference_distance_m: float = setting(1000.0)
    overlap_tolerance_m2: float = setting(1.0)
    tier_majority_share: float = setting(0.5)
    extent: tuple[float, float, float, float] = setting(
        (120.8, 30.6, 122.2, 31.9), names=("extent_min_lon", "extent_min_lat", "extent_max_lon", "extent_max_lat"))

    # Rule 4: the bottom line is the peers' mean when at least `peer_min_contracts` are in the group,
    # else city-wide, else these floors (万元/亩/yr).
    bottom_line_floor_output_per_mu: float = setting(200.0, ge=0)
    bottom_line_floor_tax_per_mu: float = setting(15.0, ge=0)
    peer_min_contracts: int = setting(5, ge=1)
    # Rule 5: contract terms and the evaluation schedule (years unless named otherwise).
    term_years_default: int = setting(20, ge=TERM_YEARS[0], le=TERM_YEARS[1])
    term_years_range: tuple[int, int] = TERM_YEARS
    evaluation_interval_default: int = setting(5, ge=EVALUATION_INTERVAL_YEARS[0], le=EVALUATION_INTERVAL_YEARS[1])
    evaluation_interval_range: tuple[int, int] = EVALUATION_INTERVAL_YEARS
    commissioning_years_default: int = setting(3, ge=1, le=10)
    expiry_evaluation_months: int = 12
    start_by_default_months: int = setting(6, ge=0, le=60)
    # Rule 7: rectification period (1–2 years) and idle land (years after the agreed start).
    rectification_years: int = setting(1, ge=1, le=2)
    idle_after_years: int = setting(1, ge=1, le=10)
    # SPEC §5 efficiency report: weights, the rank cut-offs of classes A/B/C (D below), and the ratio
    # at which a component counts in full.
    efficiency_weight_tax: float = setting(45.0, ge=0)
    efficiency_weight_output: float = setting(35.0, ge=0)
    efficiency_weight_green: float = setting(20.0, ge=0)
    efficiency_cutoffs: tuple[float, float, float] = setting(
        (0.20, 0.60, 0.95), gt=0, lt=1, names=("efficiency_cutoff_a", "efficiency_cutoff_b", "efficiency_cutoff_c"))
    efficiency_ratio_cap: float = setting(2.0, gt=0)
    # 亩均 ratings of enterprises (app/ratings/rules.py; README "亩均 ratings"): weights per indicator (the
    # Jiangsu profile), rank cut-offs of A/B/C (D below), benchmark = factor × the group's mean, the
    # component cap, the land below which an enterprise is not rated (mu), grouping (district | city);
    # consequences: D in this many consecutive rated years makes its contracts exit candidates (0: never),
    # and the classes listed for rectification.
    rating_weights: str = setting("tax_per_mu:45,output_per_mu:35,tax_per_energy:20")
    rating_cutoffs: tuple[float, float, float] = setting(
        (0.20, 0.60, 0.95), gt=0, lt=1, names=("rating_cutoff_a", "rating_cutoff_b", "rating_cutoff_c"))
    rating_benchmark_factor: float = setting(1.0, gt=0)
    rating_cap: float = setting(3.0, gt=0)
    rating_min_land_mu: float = setting(3.0, ge=0)
    rating_grouping: str = setting("district")
    rating_exit_after_d_years: int = setting(3, ge=0, le=20)
    rating_rectification_classes: str = setting("C,D")
    # Rule 11 area targets, km².
    target_2020_km2: float = 550.0
    band_2035_km2: tuple[float, float] = (320.0, 480.0)
    target_2025_base_am_km2: float = 150.0

    def default_far_cap(self, land_use: str) -> float | None:
        """Rule 3: the city-wide cap for a land use (None where no cap applies)."""
        if land_use == "industrial":
            return self.far_cap_industrial
        if land_use == "rnd":
            return self.far_cap_rnd
        return None

    def bottom_line_floor(self, code: str) -> float:
        """Rule 4: the configured floor of an efficiency indicator."""
        if code == "output_per_mu":
            return self.bottom_line_floor_output_per_mu
        if code == "tax_per_mu":
            return self.bottom_line_floor_tax_per_mu
        raise KeyError(code)


def settable() -> Iterator[tuple[Field[Any], Setting]]:
    """The Policy fields operators may set, each with how (in declaration order)."""
    for f in fields(Policy):
        if (how := f.metadata.get("setting")) is not None:
            yield f, how
