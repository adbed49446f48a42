"""Rule 4's bottom line from peer statistics: the district's industry mean when it has enough contracts,
else the city's, else the configured floor. Used at signing (rule 4) and at every result (rule 6). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.policy import Policy


@dataclass(frozen=True, slots=True)
class PeerSums:
    """The sum and count of one efficiency indicator's latest values over a peer group."""

    total: float = 0.0
    n: int = 0

    def without(self, own: float | None) -> PeerSums:
        """The group without one member's value (a contract is never its own peer)."""
        return self if own is None else PeerSums(self.total - own, self.n - 1)

    @property
    def mean(self) -> float | None:
        """The group mean (None for an empty group)."""
        return self.total / self.n if self.n > 0 else None


@dataclass(frozen=True, slots=True)
class PeerGroup:
    """What a bottom line was computed from, frozen into contracts' refusals and evaluation records."""

    indicator: str
    bottom_line: float
    source: str  # district | city | floor
    mean: float | None  # the mean of the group used (city-wide mean, when the floor applied)
    n: int
    industry_code: str
    district_code: str | None  # None when city-wide or the floor
    as_of: date

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (SPEC §5 `peer_groups`, §6 error numbers)."""
        return {
            "bottom_line": self.bottom_line, "source": self.source, "mean": self.mean, "n": self.n,
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
    floor = policy.bottom_line_floor(indicator)
    return PeerGroup(indicator, floor, "floor", city.mean, city.n, industry_code, None, as_of)
