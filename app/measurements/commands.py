"""`landcycle measurements import FILE --source tax --year 2025` (SPEC §5 CLI): one department's figures
through the same service as POST /measurements/batches; prints the counts and the refused rows (row,
subject, figure, reason); exit 0 when stored (or a clean dry run), 1 when refused."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

SOURCES = ("tax", "statistics", "energy", "environment")
SHOWN = 20  # refused rows printed; the batch's report (GET /measurements/batches/{id}) has them all

Runner = Callable[[Any, Callable[[Any], Awaitable[Any]]], Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `landcycle measurements import` (no library loaded to build them)."""
    parser.add_argument("file", help="the figures: .csv (UTF-8 or GB18030), .xlsx, or .json rows "
                                     "(long: uscc|contract_code, figure, value; or wide: one column per figure)")
    parser.add_argument("--source", required=True, choices=SOURCES, help="the department delivering")
    parser.add_argument("--year", type=int, required=True, help="the year the figures are of")
    parser.add_argument("--skip-invalid", action="store_true", help="store the valid values, report the others")
    parser.add_argument("--dry-run", action="store_true", help="check everything, store nothing")
    parser.add_argument("--user", help="deliver as this user (its role and department apply); default: the "
                                       "operator as the bureau")


def command(args: argparse.Namespace, settings: Any, run: Runner) -> int:
    """Run `landcycle measurements import`."""
    from app.audit.service import audited_transaction
    from app.calendar import city_today
    from app.errors import ValidationFailed
    from app.imports.commands import acting_user
    from app.measurements import files, service

    path = Path(args.file)
    if not path.is_file():
        raise ValidationFailed(f"{path} is not a file", field="file")
    fmt = "json" if path.suffix.lower() == ".json" else files.file_format(path.name)

    async def work(db: Any) -> service.Delivered:
        actor = await acting_user(db, args.user)
        if fmt == "json":
            entries = await asyncio.to_thread(_json_entries, path)
        else:
            entries = await asyncio.to_thread(files.read_file, path, settings.zip_limits)
        async with audited_transaction(db, actor) as session:
            return await service.deliver(session, actor, args.source, args.year, entries, fmt, path.name,
                                         args.skip_invalid, city_today(settings.today).year, args.dry_run)

    try:
        done = run(settings, work)
    except ValidationFailed as exc:
        refused = exc.numbers.get("refused")
        if not isinstance(refused, list):
            raise
        _print_refused(refused, int(exc.numbers.get("refused_total", len(refused))))
        print(f"[measurements] read {exc.numbers.get('rows', 0):,}, accepted {exc.numbers.get('accepted', 0):,}, "
              f"refused {exc.numbers.get('refused_total', 0):,}; refused: nothing stored "
              "(--skip-invalid stores the others)")
        return 1
    _print_refused(done.refused, len(done.refused))
    if done.dry_run:
        what = "dry run: nothing stored"
    else:
        assert done.batch is not None
        what = f"stored batch {done.batch.id} ({done.source} {done.year}, {done.accepted:,} values)"
    print(f"[measurements] read {done.rows:,}, accepted {done.accepted:,}, refused {len(done.refused):,}; {what}")
    return 1 if done.dry_run and done.refused and not args.skip_invalid else 0


def _print_refused(rows: list[dict[str, Any]], total: int) -> None:
    for r in rows[:SHOWN]:
        print(f"  row {r['row']} {r.get('subject') or '-'} {r.get('figure') or '-'}: {r['reason']}", file=sys.stderr)
    if total > SHOWN:
        print(f"  … and {total - SHOWN:,} more", file=sys.stderr)


def _json_entries(path: Path) -> list[Any]:
    """A JSON file of rows (a list, or an object with `rows`), numbers read as exact decimals."""
    from app.errors import ValidationFailed
    from app.measurements.rules import Entry

    try:
        data = json.loads(path.read_bytes(), parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ValidationFailed(f"{path.name} is not JSON", field="file") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValidationFailed(f"{path.name}: give a list of {{uscc | contract_code, figure, value}}", field="file")

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return [Entry(i, text(r.get("uscc")), text(r.get("contract_code")), text(r.get("figure")), r.get("value"))
            for i, r in enumerate(rows, start=1)]
