"""The rule numbers of SPEC §2–§3 as plain data, handed to the pure rule functions."""

from __future__ import annotations

from dataclasses import dataclass

INDUSTRIAL_USES = frozenset({"industrial", "rnd"})


@dataclass(frozen=True, slots=True)
class Policy:
    """Caps, distances and thresholds; defaults are SPEC.md's, operators override them by settings."""

    far_cap_industrial: float = 2.0
    far_cap_rnd: float = 3.0
    far_reference_distance_m: float = 1000.0
    overlap_tolerance_m2: float = 1.0
    tier_majority_share: float = 0.5
    extent: tuple[float, float, float, float] = (120.8, 30.6, 122.2, 31.9)

    def default_far_cap(self, land_use: str) -> float | None:
        """Rule 3: the city-wide cap for a land use (None where no cap applies)."""
        if land_use == "industrial":
            return self.far_cap_industrial
        if land_use == "rnd":
            return self.far_cap_rnd
        return None
