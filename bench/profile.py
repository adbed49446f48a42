"""A profiling pass after the measured rounds: py-spy samples the Landcycle server during a few cases
(not counted in the table) and leaves flame graphs in bench/ plus a summary of where the time goes."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from bench.database import ROOT, say, work_dir
from bench.runner import Runner

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"


_IDLE = ("Runner.run", "_run_once", "run_forever", "select", "Condition.wait", "Server.serve", "Server.main_loop")


def _frame(text: str) -> str:
    name, _, where = text.partition(" (")
    return f"{name} ({where.split(':')[0].split('/')[-1]})"


def _summary(raw: Path, top: int = 8) -> list[tuple[str, float]]:
    """Functions by self time (where the CPU actually is), in % of the busy samples (idle loop excluded)."""
    own: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        leaf = _frame(stack.split(";")[-1])
        if leaf.startswith(_IDLE) or leaf.startswith("process "):
            continue
        busy += int(count)
        own[leaf] += int(count)
    return [(name, 100 * n / busy) for name, n in own.most_common(top)] if busy else []


async def profile(runner: Runner, cases: list[str], seconds: dict[str, float]) -> dict[str, list[tuple[str, float]]]:
    """Record each case once on Landcycle (for about `seconds[case]`); SVGs go to bench/profile-<case>.svg."""
    server = runner.servers.get("landcycle")
    if server is None or not PY_SPY.exists():
        return {}
    summaries: dict[str, list[tuple[str, float]]] = {}
    for case in cases:
        svg = ROOT / "bench" / f"profile-{case}.svg"
        raw = work_dir() / f"profile-{case}.txt"
        duration = str(max(2, int(seconds.get(case, 4) + 1.5)))
        spies = [await asyncio.create_subprocess_exec(
            str(PY_SPY), "record", "--pid", str(server.process.pid), "--subprocesses", "--duration", duration,
            "--rate", "200", "--format", fmt, "--output", str(out), "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            for out, fmt in ((svg, "flamegraph"), (raw, "raw"))]
        await asyncio.sleep(0.5)
        await runner.run_one(case, "landcycle")
        for spy in spies:
            await spy.wait()
        if raw.exists():
            summaries[case] = _summary(raw)
            say(f"profile of {case}: {svg.relative_to(ROOT)}")
    return summaries
