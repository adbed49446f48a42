"""A contract's indicators (SPEC §5) measured from the figures delivered for its year, and where each value
came from. Pure: app/measurements/delivered.py reads the figures, this turns them into measurements.

`measurement_sources` of an evaluation, per measured indicator, is one of

- typed in: `{"source": "entered", "by": username}`;
- delivered: `{"source": "tax", "year": 2025, "batches": [12], "figures": {"tax_paid": {"source": "tax",
  "batch_id": 12, "subject": "enterprise", "share": 0.25}}}` — `source` names the departments whose figures
  it was derived from, sorted and joined by "+" when there are two (`"energy+statistics"` for energy per
  value added); `batches` their batch ids; per figure the batch, whether it was the contract's own value
  (`subject` "contract", share 1) or its enterprise's apportioned by land (`subject` "enterprise" and the
  contract's `share` of the enterprise's land).

Rounding: a derived value is rounded half-up to 4 decimal places (the precision figures are delivered in)
and stored as the float of that decimal, whose shortest repr is that decimal again; scoring compares it as
that decimal, exactly as it compares a typed-in value (app/evaluations/bottom_line.py `exact`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from app.measurements import figures as catalogue

PLACES = Decimal("0.0001")
SHARE_PLACES = Decimal("0.000001")


class Provenance(NamedTuple):
    """Where one figure of a contract came from (a named tuple: a year's record makes one per figure of
    every contract, 165,000 at 100,000 contracts)."""

    source: str
    batch_id: int
    year: int
    subject: str  # "contract" (its own value) | "enterprise" (its enterprise's, apportioned by land)
    share: Decimal  # the contract's fraction of the enterprise's land (1 for its own value)


@dataclass(frozen=True, slots=True)
class Delivered:
    """The latest delivered figures of one year for one contract, its own share already applied."""

    contract_id: int
    year: int
    figures: dict[str, Decimal] = field(default_factory=dict)
    land_mu: Decimal | None = None
    provenance: dict[str, Provenance] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measured:
    """Indicator values derived from delivered figures, their sources, and what could not be derived
    (indicator → the figures of that year nobody delivered)."""

    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)


def entered(codes: Iterable[str], by: str) -> dict[str, dict[str, Any]]:
    """The source of typed-in values."""
    return {code: {"source": "entered", "by": by} for code in codes}


# Per indicator: the figures it is computed from, and its denominator (figures.INDICATORS).
_PLAN: dict[str, tuple[tuple[str, ...], str | None]] = {
    code: (catalogue.inputs_of(code), d.denominator) for code, d in catalogue.INDICATORS.items()}


def measure(indicators: Iterable[str], delivered: Delivered) -> Measured:
    """Each of `indicators` (catalogue codes) derived from `delivered` (figures.derive), with its source;
    an indicator whose figures were not delivered (or whose denominator is zero) is in `missing`."""
    out = Measured()
    figures, land, provenance, year = delivered.figures, delivered.land_mu, delivered.provenance, delivered.year
    entries: dict[str, dict[str, Any]] = {}  # per figure, its source entry (the same for every indicator)
    for code in sorted(set(indicators)):
        inputs, denominator = _PLAN[code]
        lacking = [f for f in inputs if f not in figures]
        if denominator == "land_mu" and land is None:
            lacking.append("land_mu")
        if lacking:
            out.missing[code] = lacking
            continue
        value = catalogue.derive(code, figures, land or Decimal(0))
        if value is None:  # a zero denominator: no land, or no value added to divide by
            out.missing[code] = [denominator or code]
            continue
        out.values[code] = float(value.quantize(PLACES, rounding=ROUND_HALF_UP))
        out.sources[code] = _source(inputs, provenance, year, entries)
    return out


def source_of(inputs: Iterable[str], provenance: Mapping[str, Provenance], year: int) -> dict[str, Any]:
    """The `measurement_sources` entry of an indicator derived from `inputs` (module docstring)."""
    return _source(tuple(inputs), provenance, year, {})


def _source(inputs: tuple[str, ...], provenance: Mapping[str, Provenance], year: int,
            entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """source_of, each figure's entry kept in `entries` for the contract's other indicators."""
    figures: dict[str, dict[str, Any]] = {}
    sources: set[str] = set()
    batches: set[int] = set()
    for f in sorted(set(inputs)):
        p = provenance[f]
        sources.add(p.source)
        batches.add(p.batch_id)
        entry = entries.get(f)
        if entry is None:
            entry = entries[f] = {"source": p.source, "batch_id": p.batch_id, "subject": p.subject,
                                  "share": float(p.share.quantize(SHARE_PLACES, rounding=ROUND_HALF_UP))}
        figures[f] = entry
    return {"source": "+".join(sorted(sources)), "year": year, "batches": sorted(batches), "figures": figures}


def describe_missing(missing: Mapping[str, list[str]], year: int) -> str:
    """`tax_per_mu (tax_paid), jobs (jobs)` as a VALIDATION_ERROR names them."""
    parts = [f"{code} ({', '.join(figs)})" for code, figs in sorted(missing.items())]
    return f"no figure of {year} was delivered for {'; '.join(parts)}"
