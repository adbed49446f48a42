"""`make bench`: the benchmarks (bench/RESULTS.md). Today: the WFS of issue 5 (`python -m bench.wfs`)."""

from bench.wfs import main

raise SystemExit(main())
