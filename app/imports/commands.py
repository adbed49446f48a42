"""`landcycle import FILE …` (SPEC §5 CLI): progress bar on a terminal, refused rows to a report file,
a summary line at the end; exit 0 when written (or a clean dry run), 1 when refused or failed."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.auth.permissions import Actor
from app.db import Database
from app.errors import DomainError, NotFound
from app.imports.fields import parse_map
from app.imports.progress import TerminalProgress
from app.imports.report import default_path, write_report
from app.imports.service import ImportOptions, ImportOutcome, run_import
from app.settings import Settings
from models import AppUser

Runner = Callable[[Settings, Callable[[Database], Awaitable[Any]]], Any]
SHOWN = 10  # refused rows printed; the report file has them all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `landcycle import`."""
    parser.add_argument(
        "file", help="GeoPackage, Shapefile (.shp or zipped), GeoJSON or CSV (WKT or lon/lat)"
    )
    parser.add_argument(
        "--layer", help="layer of a multi-layer file (default: the only one, or one named as --kind)"
    )
    parser.add_argument("--kind", choices=["parcels", "zones", "districts"], default="parcels")
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


def command(args: argparse.Namespace, settings: Settings, run: Runner) -> int:
    """Run `landcycle import`."""
    options = ImportOptions(
        kind=args.kind,
        layer=args.layer,
        land_use=args.land_use,
        crs=args.crs,
        mapping=parse_map(args.map),
        encoding=args.encoding,
        dry_run=args.dry_run,
        skip_invalid=args.skip_invalid,
    )
    path = Path(args.file)
    bar = TerminalProgress()

    async def work(db: Database) -> ImportOutcome:
        actor = await acting_user(db, args.user)
        return await run_import(db, settings, actor, path, options, progress=bar)

    try:
        outcome: ImportOutcome = run(settings, work)
    except (DomainError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a lost connection, an unreadable file: say so, without a traceback
        from app.responses import as_domain_error  # (imports FastAPI: not on the way of every import)

        error = as_domain_error(exc)
        print(
            f"{error.code}: {error.detail} ({type(exc).__name__}: {_first_line(exc)})",
            file=sys.stderr,
        )
        print("nothing was committed", file=sys.stderr)
        return 1
    finally:
        bar.close()
    for note in outcome.notes:
        print(f"[import] note: {note}", file=sys.stderr)
    if outcome.refused:
        for r in outcome.refused[:SHOWN]:
            print(f"  row {r.row}{f' ({r.key})' if r.key else ''}: {r.code} {r.reason}", file=sys.stderr)
        if len(outcome.refused) > SHOWN:
            print(f"  … and {len(outcome.refused) - SHOWN:,} more", file=sys.stderr)
        report = Path(args.report) if args.report else default_path(path)
        write_report(report, outcome)
        print(f"[import] refused rows written to {report}", file=sys.stderr)
    print(outcome.summary())
    return 0 if outcome.status == "succeeded" else 1


async def acting_user(db: Database, username: str | None) -> Actor:
    """The named user (their role and district apply), or the operator as a bureau user."""
    if username is None:
        return Actor(id=0, username=f"cli:{getpass.getuser()}"[:64], role="bureau")
    async with db.session() as session:
        user = await session.scalar(
            select(AppUser).where(func.lower(AppUser.username) == username.lower(), AppUser.active)
        )
    if user is None:
        raise NotFound(f"user {username} does not exist", username=username)
    return Actor(id=user.id, username=user.username, role=user.role, district_code=user.district_code)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""
