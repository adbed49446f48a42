"""The flags of `landcycle import` — apart from the command itself, so that building the CLI's parser
(`landcycle --help`) does not load the import's libraries."""

from __future__ import annotations

import argparse

from app.kinds import KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `landcycle import`."""
    parser.add_argument(
        "file",
        help="GeoPackage, Shapefile (.shp or zipped), GeoJSON, Esri file geodatabase (.gdb folder or zipped), "
        "or a table with WKT or lon/lat columns: CSV, Excel .xlsx or OpenDocument .ods (--layer names the sheet)",
    )
    parser.add_argument(
        "--layer",
        help="layer of a multi-layer file (a feature class, a sheet); default: the only one, or one named as --kind",
    )
    parser.add_argument("--kind", choices=list(KINDS), default="parcels")
    parser.add_argument(
        "--land-use",
        help="land use of rows that have none (industrial, rnd, office, commercial, other; M1 and C65 too)",
    )
    parser.add_argument("--crs", help="CRS of the file's coordinates when it names none or names a wrong one")
    parser.add_argument(
        "--map",
        action="extend",
        nargs="+",
        default=[],
        metavar="FIELD=COLUMN",
        help="take a field from a column of another name, e.g. --map code=DKBM plot_ratio=RJL",
    )
    parser.add_argument(
        "--encoding", help="text encoding of a Shapefile without .cpg, or of a CSV (GB18030, GBK)"
    )
    parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="commit the accepted rows and report the refused ones (default: all or nothing)",
    )
    parser.add_argument(
        "--report", help="refused-rows report, .gpkg or .csv (default: FILE.refused.gpkg here)"
    )
    parser.add_argument(
        "--user", help="act as this user (role and district apply; default: a bureau operator)"
    )
