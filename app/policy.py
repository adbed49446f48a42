"""The rule numbers of SPEC §2–§3 and §5 as plain data, handed to the pure rule functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

INDUSTRIAL_USES = frozenset({"industrial", "rnd"})


@dataclass(frozen=True, slots=True)
class Policy:
    """Caps, distances and thresholds; defaults are SPEC.md's, operators override them by settings."""

    # The date taken as today when one is configured (LANDCYCLE_TODAY: demos, tests); None: Shanghai's.
    today: date | None = None
    far_cap_industrial: float = 2.0
    far_cap_rnd: float = 3.0
    far_reference_distance_m: float = 1000.0
    overlap_tolerance_m2: float = 1.0
    tier_majority_share: float = 0.5
    extent: tuple[float, float, float, float] = (120.8, 30.6, 122.2, 31.9)

    # Rule 4: the bottom line is the peers' mean when at least `peer_min_contracts` are in the group,
    # else city-wide, else these floors (万元/亩/yr).
    bottom_line_floor_output_per_mu: float = 200.0
    bottom_line_floor_tax_per_mu: float = 15.0
    peer_min_contracts: int = 5
    # Rule 5: contract terms and the evaluation schedule (years unless named otherwise).
    term_years_default: int = 20
    term_years_range: tuple[int, int] = (1, 50)
    evaluation_interval_default: int = 5
    evaluation_interval_range: tuple[int, int] = (3, 5)
    commissioning_years_default: int = 3
    expiry_evaluation_months: int = 12
    start_by_default_months: int = 6
    # Rule 7: rectification period (1–2 years) and idle land (years after the agreed start).
    rectification_years: int = 1
    idle_after_years: int = 1
    # SPEC §5 efficiency report: weights, the rank cut-offs of classes A/B/C (D below), and the ratio
    # at which a component counts in full.
    efficiency_weight_tax: float = 45.0
    efficiency_weight_output: float = 35.0
    efficiency_weight_green: float = 20.0
    efficiency_cutoffs: tuple[float, float, float] = (0.20, 0.60, 0.95)
    efficiency_ratio_cap: float = 2.0
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
