"""The flags of `landcycle export` — apart from the command itself, so that building the CLI's parser
(`landcycle --help`) does not load the export's libraries."""

from __future__ import annotations

import argparse

from app.kinds import KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `landcycle export`."""
    parser.add_argument("file", help="output: .gpkg, .geojson, .csv (WKT), .shp or .zip (zipped Shapefile)")
    parser.add_argument("--kind", choices=list(KINDS), default="parcels")
    parser.add_argument(
        "--where",
        action="extend",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="filters of the REST list, e.g. --where tier=base district_code=310115",
    )
    # EPSG:4490 is gis.crs.STORAGE_SRID, spelled here so that the CLI starts without loading pyproj
    parser.add_argument("--crs", help="output CRS (default EPSG:4490)")
    parser.add_argument("--bbox", help="minx,miny,maxx,maxy in the output CRS")
    parser.add_argument("--as-of", help="the data as of a date (YYYY-MM-DD) or date-time (rule 10)")
    parser.add_argument("--layer", help="layer name (default: the kind)")
    parser.add_argument(
        "--bom", action="store_true", help="a .csv starts with a UTF-8 byte-order mark, so Excel reads Chinese text"
    )
