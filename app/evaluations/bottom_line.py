"""Rule 4's bottom line from peer statistics: the district's industry mean when it has enough contracts,
else the city's, else the configured floor. Used at signing (rule 4) and at every result (rule 6). Pure.

Exact numbers (SPEC rules 4 and 6 at the boundary): sums, means and comparisons are `Decimal`, never
binary floats, so a commitment or a measurement equal to the bottom line as printed is *at* it. A value
that arrives as a float (a JSON number) is taken as the decimal it was written as (`exact`: its shortest
repr, so 200.1 is 200.1, not 200.09999…). The mean is rounded half-up to `PLACES` decimals, the precision
contract targets are stored in (`contract_indicator.target` numeric(16,4)); that rounded mean *is* the
bottom line, so committing exactly the figure a refusal prints passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.policy import Policy

PLACES = Decimal("0.0001")  # the bottom line's precision: that of stored contract targets


def exact(value: Decimal | float | int) -> Decimal:
    """A number as the decimal it was written as (floats by their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def rounded(value: Decimal) -> Decimal:
    """A mean at the bottom line's precision (half-up)."""
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PeerSums:
    """The sum and count of one efficiency indicator's latest values over a peer group."""

    total: Decimal = Decimal(0)
    n: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", exact(self.total))

    def without(self, own: Decimal | float | None) -> PeerSums:
        """The group without one member's value (a contract is never its own peer)."""
        return self if own is None else PeerSums(self.total - exact(own), self.n - 1)

    @property
    def mean(self) -> Decimal | None:
        """The group mean at the bottom line's precision (None for an empty group)."""
        return rounded(self.total / self.n) if self.n > 0 else None


@dataclass(frozen=True, slots=True)
class PeerGroup:
    """What a bottom line was computed from, frozen into contracts' refusals and evaluation records."""

    indicator: str
    bottom_line: Decimal
    source: str  # district | city | floor
    mean: Decimal | None  # the mean of the group used (city-wide mean, when the floor applied)
    n: int
    industry_code: str
    district_code: str | None  # None when city-wide or the floor
    as_of: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "bottom_line", exact(self.bottom_line))
        if self.mean is not None:
            object.__setattr__(self, "mean", exact(self.mean))

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (SPEC §5 `peer_groups`, §6 error numbers): figures of ≤ 4 decimals as JSON
        numbers, which print back as the same decimals."""
        return {
            "bottom_line": float(self.bottom_line), "source": self.source,
            "mean": None if self.mean is None else float(self.mean), "n": self.n,
            "group": {"industry_code": self.industry_code, "district_code": self.district_code,
                      "year": self.as_of.year, "as_of": self.as_of.isoformat()},
        }


def bottom_line(indicator: str, industry_code: str, district_code: str | None, as_of: date,
                district: PeerSums, city: PeerSums, policy: Policy) -> PeerGroup:
    """Rule 4: the peer group that sets the bottom line of `indicator` for an enterprise of
    `industry_code` on land in `district_code`, given the district's and the city's sums."""
    least = policy.peer_min_contracts
    if district_code is not None and district.n >= least and district.mean is not None:
        return PeerGroup(indicator, district.mean, "district", district.mean, district.n, industry_code,
                         district_code, as_of)
    if city.n >= least and city.mean is not None:
        return PeerGroup(indicator, city.mean, "city", city.mean, city.n, industry_code, None, as_of)
    floor = rounded(exact(policy.bottom_line_floor(indicator)))
    return PeerGroup(indicator, floor, "floor", city.mean, city.n, industry_code, None, as_of)
