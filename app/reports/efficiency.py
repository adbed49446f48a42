"""SPEC §5 efficiency report: a score per contract from its latest result's frozen ratios, and A–D classes
by rank (A top 20 %, B to 60 %, C to 95 %, D the bottom 5 %; weights and cut-offs configurable). Pure;
vectorised with numpy because the report ranks every contract in force at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.policy import Policy

CLASSES = ("A", "B", "C", "D")
Floats = np.ndarray  # float64; NaN where a value is missing


def components(ratios: Floats, cap: float) -> Floats:
    """Ratios to their reference as 0–1 components, 1 at `cap` times the reference or more; a missing
    ratio (a bottom line of 0: nothing to fall short of) counts in full."""
    return np.where(np.isnan(ratios), 1.0, np.clip(ratios, 0.0, cap) / cap)


def green_ratios(targets: Sequence[Floats], measured: Sequence[Floats]) -> Floats:
    """Green indicators are "at most" targets: target ÷ measured per indicator, averaged over those the
    contract commits to; 1.0 (on target) when it commits to none. A measured 0 is as good as it gets."""
    ratios = []
    for t, m in zip(targets, measured, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(m <= 0, np.inf, t / m)
        ratios.append(np.where(np.isnan(t) | np.isnan(m), np.nan, r))
    if not ratios:
        return np.ones(0)
    stacked = np.vstack(ratios)
    present = ~np.isnan(stacked)
    total = np.where(present, stacked, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 1.0)


def scores(tax: Floats, output: Floats, green: Floats, policy: Policy) -> Floats:
    """Weighted scores 0–100: tax, output and green components (SPEC: 45 / 35 / 20 by default)."""
    cap = policy.efficiency_ratio_cap
    weights = (policy.efficiency_weight_tax, policy.efficiency_weight_output, policy.efficiency_weight_green)
    total = sum(weights)
    if not total:
        return np.zeros(len(tax))
    parts = (components(tax, cap), components(output, cap), components(green, cap))
    return np.round(100.0 * sum(w * p for w, p in zip(weights, parts, strict=True)) / total, 4)


def class_indices(values: Floats, cutoffs: tuple[float, float, float]) -> np.ndarray:
    """0–3 (A–D) by rank: a contract's rank share is the share of contracts strictly better than it, so
    equal scores always get the same class."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=int)
    better = np.searchsorted(np.sort(-values), -values, side="left")
    return np.searchsorted(np.asarray(cutoffs), better / n, side="right")


# Scalar forms (one contract), the same formulas.
def score(tax_ratio: float | None, output_ratio: float | None, green: float, policy: Policy) -> float:
    """The score of one contract."""
    def arr(x: float | None) -> Floats:
        return np.array([np.nan if x is None else x], dtype=float)

    return float(scores(arr(tax_ratio), arr(output_ratio), arr(green), policy)[0])


def component(ratio: float | None, cap: float) -> float:
    """One component."""
    return float(components(np.array([np.nan if ratio is None else ratio], dtype=float), cap)[0])


def green_ratio(pairs: Sequence[tuple[float | None, float | None]]) -> float:
    """The green ratio of one contract from (target, measured) pairs."""
    def arr(x: float | None) -> Floats:
        return np.array([np.nan if x is None else x], dtype=float)

    return float(green_ratios([arr(t) for t, _ in pairs], [arr(m) for _, m in pairs])[0]) if pairs else 1.0


def classes(values: Sequence[float], cutoffs: tuple[float, float, float]) -> list[str]:
    """A–D for each score, by rank."""
    return [CLASSES[i] for i in class_indices(np.asarray(values, dtype=float), cutoffs)]
