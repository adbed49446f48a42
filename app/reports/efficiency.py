"""SPEC §5 efficiency report: a score per contract from its latest result's frozen ratios, and A–D classes
by rank (A top 20 %, B to 60 %, C to 95 %, D the bottom 5 %; weights and cut-offs configurable). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from app.policy import Policy

CLASSES = ("A", "B", "C", "D")


def component(ratio: float | None, cap: float) -> float:
    """A ratio to its reference as a 0–1 component: 1 at `cap` times the reference or more."""
    if ratio is None:
        return 1.0  # nothing to fall short of (a bottom line of 0)
    return max(0.0, min(ratio, cap)) / cap


def green_ratio(pairs: Sequence[tuple[float | None, float | None]]) -> float:
    """Green indicators are "at most" targets: target ÷ measured per indicator, averaged; 1.0 (on target)
    when the contract commits to none. A measured 0 is as good as it gets."""
    ratios = []
    for target, measured in pairs:
        if target is None or measured is None:
            continue
        ratios.append(float("inf") if measured <= 0 else target / measured)
    return sum(ratios) / len(ratios) if ratios else 1.0


def score(tax_ratio: float | None, output_ratio: float | None, green: float, policy: Policy) -> float:
    """Weighted score 0–100: tax, output and green components (SPEC: 45 / 35 / 20 by default)."""
    cap = policy.efficiency_ratio_cap
    weights = (policy.efficiency_weight_tax, policy.efficiency_weight_output, policy.efficiency_weight_green)
    parts = (component(tax_ratio, cap), component(output_ratio, cap), component(green, cap))
    total = sum(weights)
    return round(100.0 * sum(w * p for w, p in zip(weights, parts, strict=True)) / total, 4) if total else 0.0


def classes(scores: Sequence[float], cutoffs: tuple[float, float, float]) -> list[str]:
    """A–D by rank among `scores` (higher is better). A contract's rank share is the share of contracts
    strictly better than it, so equal scores always get the same class."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: -scores[i])
    out = [""] * n
    first = 0
    for pos, i in enumerate(order):
        if pos and scores[i] != scores[order[pos - 1]]:
            first = pos
        share = first / n
        out[i] = next((c for c, cut in zip(CLASSES, cutoffs, strict=False) if share < cut), CLASSES[-1])
    return out
