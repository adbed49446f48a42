"""`landcycle export FILE [--kind …] [--where …] [--crs …]` (SPEC §5 CLI)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.db import Database
from app.errors import CrsUnsupported, GeometryInvalid, ValidationFailed
from app.exports.service import Export, export_to_file, parse_where
from app.features.params import as_of_param
from app.parcels.query import ParcelQuery
from app.settings import Settings
from app.zones.query import ZoneQuery
from gis.crs import CrsRef, parse_crs
from gis.errors import CrsError, GeometryError, VectorFileError
from gis.io import WRITABLE, driver_of
from gis.sql import parse_bbox

Runner = Callable[[Settings, Callable[[Database], Awaitable[Any]]], Any]


def command(args: argparse.Namespace, settings: Settings, run: Runner) -> int:
    """Run `landcycle export`."""
    path = Path(args.file)
    try:
        driver_of(path, WRITABLE)
        if not path.parent.is_dir():
            raise VectorFileError(f"{path.parent}: no such directory")
        if args.bom and path.suffix.lower() != ".csv":
            raise ValidationFailed("--bom is for a .csv file", field="bom")
        crs = CrsRef(parse_crs(args.crs).srid)
        bbox = parse_bbox(args.bbox) if args.bbox else None
    except CrsError as exc:
        raise CrsUnsupported(str(exc)) from None
    except VectorFileError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    except GeometryError as exc:
        raise GeometryInvalid(str(exc)) from None
    filters = parse_where(args.kind, args.where)
    as_of = as_of_param(args.as_of)
    export = Export(
        kind=args.kind,
        crs=crs,
        parcel_query=ParcelQuery(filters=filters, bbox=bbox, bbox_crs=crs, as_of=as_of),
        zone_query=ZoneQuery(filters=filters, bbox=bbox, bbox_crs=crs, as_of=as_of),
        bom=args.bom,
    )
    started = time.perf_counter()

    async def work(db: Database) -> int:
        return await export_to_file(db, export, path, args.layer)

    count = run(settings, work)
    print(
        f"exported {count:,} {args.kind} to {path} (EPSG:{crs.srid}) "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0
