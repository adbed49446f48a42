"""`python -m bench [NAME] [OPTIONS]`: one benchmark; without a name the REST comparison (`api`).

  api          Landcycle vs raw PostGIS, tipg and pygeoapi (streams, pages, bbox windows, GET by id)
  wfs          WFS GetFeature vs MapServer and QGIS Server
  imports      `landcycle import` of a 100,000-parcel GeoPackage vs a plain ogr2ogr load
  evaluations  scoring a year's due evaluations and the efficiency report
  delivered    a year of delivered figures, then the year's evaluations recorded from them in one call
  load         a realistic mix (map, WFS, parcel views, requests) at 50 clients for 60 s
  web          the web page's first render of the whole city in headless Chromium
  replicas     read throughput: one node vs two workers + a streaming standby (throwaway clusters)
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _load(name: str) -> Callable[[list[str]], int]:
    module = __import__(f"bench.{name}", fromlist=["main"])
    main: Callable[[list[str]], int] = module.main
    return main


BENCHMARKS = ("api", "wfs", "imports", "evaluations", "delivered", "load", "web", "replicas")


def main(argv: list[str]) -> int:
    """Dispatch to a benchmark by name (default: api)."""
    if argv and argv[0] in BENCHMARKS:
        return _load(argv[0])(argv[1:])
    if argv and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; one of {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    return _load("api")(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
