"""Headless QGIS for the tests that drive a live server with it (tests/wfs, tests/ogc).

`run` (the pytest side) starts a client module under Debian's /usr/bin/python3 (python3-qgis, offscreen)
and returns the one JSON object it prints; `session` (the client module's side) starts QGIS, lets the
module's work fill that object, prints it and leaves without the interpreter exit QGIS 3.22 crashes on.
Only the standard library at import: /usr/bin/python3 has none of the virtualenv's packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

QGIS_PYTHON = "/usr/bin/python3"
RESULT = "QGIS-RESULT "
ROOT = Path(__file__).resolve().parents[1]


def run(module: str, args: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """`python3 -m module <args as JSON>` with QGIS; skips when headless QGIS is not installed."""
    import pytest

    probe = (subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60, check=False)
             if os.path.exists(QGIS_PYTHON) else None)
    if probe is None or probe.returncode != 0:
        pytest.skip("headless QGIS (Debian python3-qgis qgis-providers) is not installed")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    done = subprocess.run([QGIS_PYTHON, "-m", module, json.dumps(args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(RESULT)), None)
    assert line, f"QGIS printed no result; rc={done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(line[len(RESULT):])
    assert "error" not in result, result.get("error")
    return result


def session(work: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """QGIS started, `work(args, out)` run on the JSON argument, `out` printed (with the QGIS version, and
    the error instead of a hang when the work raised), QGIS left."""
    args = json.loads(sys.argv[1])
    from qgis.core import Qgis, QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    out: dict[str, Any] = {"qgis": Qgis.QGIS_VERSION}
    try:
        work(args, out)
    except Exception as exc:  # report, never hang the test
        out["error"] = repr(exc)
    print(RESULT + json.dumps(out, default=str))
    sys.stdout.flush()
    app.exitQgis()
    os._exit(0)  # QGIS 3.22 crashes on a normal interpreter exit
