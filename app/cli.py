"""The `landcycle` command (SPEC §5 CLI).

Each command loads its libraries when it runs: building the parser (`landcycle --help`) loads none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import DomainError
from app.exports.arguments import add_arguments as export_arguments
from app.imports.arguments import add_arguments as import_arguments
from app.measurements.commands import add_arguments as measurement_arguments

if TYPE_CHECKING:
    from app.db import Database
    from app.settings import Settings

T = TypeVar("T")


def run_with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one async job with the app's Database, disposing the pool afterwards."""

    from app.db import Database, create_engine

    async def _main() -> T:
        # Batch commands (demo load, import, scoring) may run long statements: an hour, not 30 s.
        db = Database(create_engine(settings, statement_timeout_ms=3_600_000, pool_size=2, max_overflow=2))
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(_main())


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from app import migrate

    url = settings.async_database_url
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(url, args.revision or "base")
    else:
        migrate.check(url)
        print("models and migrations agree")
    return 0


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth.service import add_user

    if not args.password_stdin:
        print("give the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")

    async def work(db: Database) -> str:
        async with db.session() as session:
            user = await add_user(session, args.name, args.role, password, args.district, args.full_name,
                                  args.organisation, args.source)
            scope = user.district_code or (f"organisation {user.organisation_id}" if user.organisation_id
                                           else user.source)
            return f"user {user.username} ({user.role}{', ' + scope if scope else ''})"

    print(run_with_db(settings, work), "saved")
    return 0


def _measurements_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.measurements import commands

    return commands.command(args, settings, run_with_db)


def _demo_load(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo.load import load_demo

    def progress(message: str) -> None:
        print(f"[demo] {message}", file=sys.stderr, flush=True)

    async def work(db: Database) -> None:
        await load_demo(db, settings, parcels=args.parcels, seed=args.seed, if_empty=args.if_empty,
                        progress=progress)

    run_with_db(settings, work)
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from app.imports import commands

    return commands.command(args, settings, run_with_db)


def _evaluations_record(args: argparse.Namespace, settings: Settings) -> int:
    """A year's results from the delivered figures (rules 6-7), one transaction, as POST /evaluations/results."""
    from app.audit.service import audited_transaction
    from app.calendar import city_today
    from app.evaluations.year import YearRecord, record_year
    from app.imports.commands import acting_user
    from app.responses import dumps

    today = city_today(settings.today)
    on = args.evaluated_on or today

    async def work(db: Database) -> YearRecord:
        actor = await acting_user(db, args.user)
        async with audited_transaction(db, actor) as session:
            return await record_year(session, actor, settings.policy, args.year, on, today, args.district,
                                     args.dry_run)

    done = run_with_db(settings, work)
    if args.json:
        sys.stdout.write(dumps(done.as_json()).decode() + "\n")
        return 0
    verb = "would record" if done.dry_run else "recorded"
    print(f"{done.due} evaluations due in {done.year} by {done.evaluated_on.isoformat()}: {verb} "
          f"{done.recorded}, skipped {done.skipped}")
    print(f"outcomes {done.outcomes}; consequences {done.consequences}")
    for item in done.skipped_items[:10]:
        print(f"  skipped evaluation {item['evaluation_id']} ({item['contract_code']}): {item['reason']}")
    return 0


def _ratings_rate(args: argparse.Namespace, settings: Settings) -> int:
    """A year's 亩均 classes from the delivered figures, replacing its run, as POST /ratings/{year}."""
    from app.audit.service import audited_transaction
    from app.calendar import city_today
    from app.imports.commands import acting_user
    from app.ratings.service import rate_year
    from app.responses import dumps

    async def work(db: Database) -> dict[str, Any]:
        actor = await acting_user(db, args.user)
        async with audited_transaction(db, actor) as session:
            return await rate_year(session, actor, settings.policy, args.year, city_today(settings.today))

    run = run_with_db(settings, work)
    if args.json:
        sys.stdout.write(dumps(run).decode() + "\n")
        return 0
    classes = ", ".join(f"{k} {n}" for k, n in run["classes"].items())
    print(f"rated {run['year']}: {run['rated']} of {run['enterprises']} enterprises ({classes}); "
          f"not rated {run['unrated']}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from app.exports import commands

    return commands.command(args, settings, run_with_db)


def _evaluations_due(args: argparse.Namespace, settings: Settings) -> int:
    """The evaluation queue for a daily cron job: a table, or JSON with --json."""
    from app.calendar import city_today
    from app.evaluations.query import as_json, select_evaluations
    from app.reports.service import evaluations_due
    from app.responses import dumps

    today = city_today(settings.today)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            q, summary = await evaluations_due(session, today, args.within_days, args.district)
            items = [as_json(r, today) for r in await session.execute(select_evaluations(q))]
        return {**summary, "items": items}

    queue = run_with_db(settings, work)
    if args.json:
        sys.stdout.write(dumps(queue).decode() + "\n")
        return 0
    print(f"{queue['due']} evaluations due by {queue['until']} ({queue['overdue']} overdue), "
          f"as of {queue['as_of']}")
    header = ("due_on", "status", "stage", "district", "contract", "parcel", "enterprise", "responsible")
    rows = [(i["due_on"].isoformat(), f"overdue {i['days_overdue']} d" if i["overdue"] else "scheduled",
             f"{i['stage']} {i['seq']}", i["district_code"] or "", i["contract_code"], i["parcel_code"] or "",
             i["enterprise_name"], i["responsible_org_name"] or "") for i in queue["items"]]
    widths = [min(32, max([len(h)] + [len(r[k]) for r in rows])) for k, h in enumerate(header)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import math

    import uvicorn

    from app.auth.keys import InsecureKey
    from app.observability import configure_logging
    from app.serving import protocol

    try:
        settings.signing_key  # noqa: B018 — checked before any worker starts
    except InsecureKey as exc:
        print(f"landcycle serve: refusing to start: {exc}", file=sys.stderr)
        return 2
    workers = args.workers or settings.workers
    if workers > 1 and not settings.has_configured_key:
        # Workers are separate processes: without a configured key each would make its own, and a token
        # issued by one would fail on the others. One key for this run, handed down in the environment.
        os.environ["LANDCYCLE_SECRET_KEY"] = secrets.token_urlsafe(48)
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_config=None,
        access_log=False,
        # Slow or hostile clients: connections at once (beyond: 503), idle keep-alive, header and write
        # deadlines (app/serving.py).
        limit_concurrency=settings.serve_limit_concurrency,
        timeout_keep_alive=math.ceil(settings.serve_keep_alive_seconds),  # (whole seconds to uvicorn)
        http=protocol(header_timeout=settings.serve_header_timeout_seconds,
                      send_timeout=settings.stream_send_timeout_seconds),
        timeout_graceful_shutdown=10,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so extensions can add commands)."""
    parser = argparse.ArgumentParser(prog="landcycle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema (Alembic)")
    db.add_argument("action", choices=["upgrade", "downgrade", "check"])
    db.add_argument("--revision", help="target revision (default head / base)")
    db.set_defaults(handler=_db)

    demo = sub.add_parser("demo", help="demonstration data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    load = demo_sub.add_parser("load", help="replace the data with the generated demo city")
    load.add_argument("--parcels", type=int, default=5000, help="industrial parcels (default 5,000)")
    load.add_argument("--seed", type=int, default=2018, help="random seed (same seed, same city)")
    load.add_argument("--if-empty", action="store_true", help="do nothing when districts exist already")
    load.set_defaults(handler=_demo_load)

    users = sub.add_parser("users", help="user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create a user or reset one's password and role")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["admin", "bureau", "district_officer", "evaluator", "viewer",
                                                       "org_manager", "data_provider"])
    add.add_argument("--district", help="6-digit district code (district_officer, evaluator)")
    add.add_argument("--organisation", type=int, help="responsible organisation id (org_manager)")
    add.add_argument("--source", choices=["tax", "statistics", "energy", "environment"],
                     help="the department whose figures it delivers (data_provider)")
    add.add_argument("--full-name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_users_add)

    imports = sub.add_parser("import", help="import parcels, zones or districts from a file (all or nothing)")
    import_arguments(imports)
    imports.set_defaults(handler=_import)
    measurements = sub.add_parser("measurements", help="figures delivered by the departments")
    measurements_sub = measurements.add_subparsers(dest="measurements_command", required=True)
    deliver = measurements_sub.add_parser(
        "import", help="deliver one department's figures of a year from a file (all or nothing)")
    measurement_arguments(deliver)
    deliver.set_defaults(handler=_measurements_import)
    exports = sub.add_parser("export", help="export parcels, zones or districts to a file")
    export_arguments(exports)
    exports.set_defaults(handler=_export)


    evaluations = sub.add_parser("evaluations", help="contract evaluations (rules 5-7)")
    evaluations_sub = evaluations.add_subparsers(dest="evaluations_command", required=True)
    due = evaluations_sub.add_parser("due", help="the queue: evaluations due soon and overdue")
    due.add_argument("--within-days", type=int, default=30, help="due within this many days (default 30)")
    due.add_argument("--district", help="6-digit district code (default: all)")
    due.add_argument("--json", action="store_true", help="JSON for machines instead of a table")
    due.set_defaults(handler=_evaluations_due)
    record = evaluations_sub.add_parser(
        "record", help="record a year's due evaluations from the delivered figures (one transaction)")
    record.add_argument("--year", type=int, required=True, help="evaluations due in this year, its figures")
    record.add_argument("--district", help="6-digit district code (default: all the user may record)")
    record.add_argument("--evaluated-on", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="the results' date (default today)")
    record.add_argument("--dry-run", action="store_true", help="score and count, write nothing")
    record.add_argument("--user", help="act as this user (role and district apply; default: a bureau operator)")
    record.add_argument("--json", action="store_true", help="JSON for machines instead of lines")
    record.set_defaults(handler=_evaluations_record)

    ratings = sub.add_parser("ratings", help="亩均 ratings of enterprises")
    ratings_sub = ratings.add_subparsers(dest="ratings_command", required=True)
    rate = ratings_sub.add_parser("rate", help="rate a year from the delivered figures (replaces its run)")
    rate.add_argument("--year", type=int, required=True, help="the year whose figures and land are rated")
    rate.add_argument("--user", help="act as this user (the bureau rates; default: a bureau operator)")
    rate.add_argument("--json", action="store_true", help="the run as JSON instead of a line")
    rate.set_defaults(handler=_ratings_rate)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `landcycle` console script."""
    args = build_parser().parse_args(argv)
    from app.settings import Settings

    settings = Settings()
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, settings)
    except DomainError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was committed", file=sys.stderr)
        return 130
    except Exception as exc:
        from app.failures import outside_failure

        message = outside_failure(exc, settings)
        if message is None:  # a fault of the program: its traceback is what helps
            raise
        print(f"landcycle {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
