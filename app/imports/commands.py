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
    except Exception as exc:  # a lost connection, a concurrent writer: said in one line, without a traceback
        from app.failures import outside_failure

        message = outside_failure(exc, settings)
        if message is None:
            raise
        print(f"landcycle import: {message}", file=sys.stderr)
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
    """The named user (their role and scope apply), or the operator as a bureau user."""
    if username is None:
        return Actor(id=0, username=f"cli:{getpass.getuser()}"[:64], role="bureau")
    async with db.session() as session:
        user = await session.scalar(
            select(AppUser).where(func.lower(AppUser.username) == username.lower(), AppUser.active)
        )
    if user is None:
        raise NotFound(f"user {username} does not exist", username=username)
    return Actor(id=user.id, username=user.username, role=user.role, district_code=user.district_code,
                 organisation_id=user.organisation_id, source=user.source)

