"""OGC API – Features at /ogc: Part 1 Core, Part 2 CRS, Part 3 filtering (cql2), Part 4 writes (writes)."""
