"""RESULTS.md section (table, ratios, resources, goals) and the chart."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.runner import CASES, KIND, Results

PEERS = ("tipg", "pygeoapi")
# Landcycle's two read APIs: REST (/api/v1) and OGC API – Features (/ogc), each measured as its own server.
OURS = ("landcycle", "landcycle-ogc")
OGC = "landcycle-ogc"


def ogc_label(label: str) -> str:
    """A case's row label for the OGC API (/ogc/collections/parcels/items)."""
    return f"OGC API items: {label}"


def _time(seconds: float | None, complete: bool = True) -> str:
    if seconds is None:
        return "–"
    return f"{'> ' if not complete else ''}{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def _cell(results: Results, case: str, server: str) -> str:
    runs = results.count(case, server)
    if not runs:
        return "–"
    n = f" ({runs}×)" if runs < max((results.count(case, s) for s in ("raw", *OURS)), default=0) else ""
    if KIND[case] == "time":
        complete = all(r.get("complete", True) for r in results.runs[(case, server)])
        return _time(results.median(case, server, "seconds"), complete) + n
    rps = results.median(case, server, "rps") or 0.0
    p50 = results.median(case, server, "p50_ms")
    p99 = results.median(case, server, "p99_ms")
    return f"{rps:,.0f} req/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms){n}"


def _value(results: Results, case: str, server: str) -> float | None:
    """Seconds for a time case, req/s for a load case."""
    return results.median(case, server, "seconds" if KIND[case] == "time" else "rps")


def _vs_raw(results: Results, case: str, ours: str = "landcycle") -> str:
    lc, raw = _value(results, case, ours), _value(results, case, "raw")
    if not lc or not raw:
        return "–"
    return f"{lc / raw:.2f}× raw time" if KIND[case] == "time" else f"{100 * lc / raw:.0f} % of raw"


def _vs_peer(results: Results, case: str, peer: str, ours: str = "landcycle") -> str:
    lc, other = _value(results, case, ours), _value(results, case, peer)
    if not lc or not other:
        return "–"
    factor = other / lc if KIND[case] == "time" else lc / other
    complete = all(r.get("complete", True) for r in results.runs.get((case, peer), []))
    return f"{'> ' if not complete else ''}{factor:.1f}× faster"


def goals(results: Results) -> list[tuple[str, str, bool | None]]:
    """The REST comparison's goals (bench/RESULTS.md "REST API"): (goal, measured, met)."""
    out: list[tuple[str, str, bool | None]] = []
    lc, raw, tipg = (_value(results, "stream", s) for s in ("landcycle", "raw", "tipg"))
    rss = results.median("stream", "landcycle", "peak_rss_mb")
    if lc and raw:
        out.append(("full stream ≤ 2× raw time", f"{lc / raw:.2f}×", lc / raw <= 2))
    if lc and tipg:
        out.append(("full stream ≥ 10× faster than tipg", f"{tipg / lc:.1f}×", tipg / lc >= 10))
    if rss is not None:
        out.append(("server RSS while streaming < 250 MB", f"{rss:.0f} MB", rss < 250))
    for case, share, label in (("bbox16", 0.5, "bbox at 16 clients ≥ 50 % of raw req/s"),
                               ("id16", 0.25, "GET by id at 16 clients ≥ 25 % of raw req/s")):
        a, b = _value(results, case, "landcycle"), _value(results, case, "raw")
        if a and b:
            out.append((label, f"{100 * a / b:.0f} %", a / b >= share))
    # The OGC routes reuse the REST reads (one statement per page): the same speed as /api/v1, within 20 %.
    rest, ogc = _value(results, "stream", "landcycle"), _value(results, "stream", OGC)
    if rest and ogc:
        out.append(("OGC API full stream ≤ 1.25× REST's time", f"{ogc / rest:.2f}×", ogc / rest <= 1.25))
    for case, label in (("bbox16", "OGC API bbox at 16 clients ≥ 80 % of REST's req/s"),
                        ("id16", "OGC API GET by id at 16 clients ≥ 80 % of REST's req/s")):
        rest, ogc = _value(results, case, "landcycle"), _value(results, case, OGC)
        if rest and ogc:
            out.append((label, f"{100 * ogc / rest:.0f} %", ogc / rest >= 0.8))
    return out


def section(results: Results, meta: dict[str, Any]) -> str:
    """One dated section of RESULTS.md."""
    lines = [f"## {meta['date']} — {meta['scale']} ({meta['parcels']:,} current parcels)", ""]
    lines += [f"- machine: {meta['machine']}; load average before {meta['load_before']}, after "
              f"{meta['load_after']} (other engineers' test suites share the cores)",
              f"- versions: {meta['versions']}",
              f"- method: one client (aiohttp, `Accept-Encoding: identity`), {meta['rounds']} interleaved rounds, "
              f"medians; load cases {meta['load_seconds']:.0f} s each; {meta['workers']} uvicorn worker(s) per "
              f"server; a slow (case, server) stops after {meta['budget_seconds']:.0f} s of runs "
              "(its run count is shown); raw = Landcycle's own statements and reading (the export: id blocks on two "
              "connections in one snapshot) through asyncpg in the client, no HTTP",
              f"- whole run: {meta['elapsed_min']:.1f} min", ""]
    lines += ["| case | raw PostGIS | Landcycle | Landcycle ÷ raw | tipg | pygeoapi | Landcycle vs tipg "
              "| Landcycle vs pygeoapi |", "|---|---|---|---|---|---|---|---|"]
    for case, label, _ in CASES:
        for ours, name in (("landcycle", label), (OGC, ogc_label(label))):
            if not results.count(case, ours) and (ours == OGC or not any(results.count(case, s)
                                                                          for s in ("raw", *PEERS))):
                continue
            lines.append(f"| {name} | {_cell(results, case, 'raw')} | {_cell(results, case, ours)} | "
                         f"{_vs_raw(results, case, ours)} | {_cell(results, case, 'tipg')} | "
                         f"{_cell(results, case, 'pygeoapi')} | {_vs_peer(results, case, 'tipg', ours)} | "
                         f"{_vs_peer(results, case, 'pygeoapi', ours)} |")
    lines.append("| WFS GetFeature, full and bbox (vs MapServer / QGIS Server) | see WFS section | see WFS section "
                 "| – | – | – | – | – |")
    lines += ["", "Server resources (psutil over the server's process tree; CPU per request = CPU time ÷ requests, "
              "per page for paging, per stream for the stream):", "",
              "| case | Landcycle CPU/req | Landcycle peak RSS | tipg CPU/req | tipg peak RSS | pygeoapi CPU/req "
              "| pygeoapi peak RSS |", "|---|---|---|---|---|---|---|"]
    for case, label, _ in CASES:
        for ours, name in (("landcycle", label), (OGC, ogc_label(label))):
            if ours == OGC and not results.count(case, OGC):
                continue
            cells = []
            for server in (ours, *PEERS):
                cpu = results.median(case, server, "cpu_ms_per_request")
                rss = results.median(case, server, "peak_rss_mb")
                cells += ["–" if cpu is None else (f"{cpu / 1000:.2f} s" if cpu >= 1000 else f"{cpu:.2f} ms"),
                          "–" if rss is None else f"{rss:.0f} MB"]
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    met = goals(results)
    if met:
        lines += ["", "Goals:", "", "| goal | measured | met |", "|---|---|---|"]
        lines += [f"| {g} | {m} | {'yes' if ok else 'NO'} |" for g, m, ok in met]
    if meta.get("profiles"):
        lines += ["", "Where Landcycle's CPU goes (py-spy, a pass after the rounds; self time in % of the busy "
                  "samples; flame graphs `bench/profile-<case>.svg`):", ""]
        for case, rows in meta["profiles"].items():
            label = next(lbl for key, lbl, _ in CASES if key == case)
            lines.append(f"- {label}: " + "; ".join(f"{name} {share:.0f} %" for name, share in rows))
    if results.checks:
        lines += ["", "Checks that failed during the run:", ""] + [f"- {c}" for c in results.checks]
    if meta.get("chart"):
        lines += ["", f"![chart]({meta['chart']})"]
    return "\n".join(lines) + "\n"


def chart(results: Results, path: Path, title: str) -> None:
    """One panel per case, a bar per server (log scale: the peers are an order of magnitude away)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = ["raw", *OURS, *PEERS]
    colours = {"raw": "#7f7f7f", "landcycle": "#2c7fb8", OGC: "#41b6c4", "tipg": "#fdae61", "pygeoapi": "#d7191c"}
    cases = [c for c in CASES if any(results.count(c[0], s) for s in servers)]
    cols = 3
    rows = math.ceil(len(cases) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 4 * rows), squeeze=False)
    for ax, (case, label, kind) in zip(axes.flat, cases, strict=False):
        names = [s for s in servers if results.count(case, s)]
        values = [_value(results, case, s) or 0.0 for s in names]
        bars = ax.bar(names, values, color=[colours[s] for s in names])
        ax.tick_params(axis="x", labelsize=8)
        ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("seconds (lower is better)" if kind == "time" else "req/s (higher is better)")
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(f"{value:.2f}" if kind == "time" else f"{value:.0f}", (bar.get_x() + bar.get_width() / 2,
                        value), ha="center", va="bottom", fontsize=8)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
