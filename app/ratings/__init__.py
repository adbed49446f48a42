"""亩均 (per-mu) ratings: yearly A–D classes of enterprises from the delivered figures (issue 23)."""
