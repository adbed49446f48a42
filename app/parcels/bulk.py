"""Many parcels in one statement: stage with COPY, locate in SQL, decide with the same pure rules as a
single REST write, insert set-based. Used by `demo load` and `import`; never a loop of single INSERTs.

Interruption-safe by construction: everything happens in the caller's one transaction, and the staging
tables are temporary (private to the session, dropped at commit or when the connection dies).

A big batch is measured on the side (`_measure_apart`): SPEC §2's area and the tile shapes are a pure
function of the geometry, so a second connection computes them from the same WKB on the other core while
this transaction stages, locates and decides; the insert then copies them in. That connection writes nothing
(a temporary table dropped with its transaction); without one, the insert measures the batch itself.
"""

from __future__ import annotations

import asyncio
import inspect
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

import asyncpg
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.permissions import Actor, require_parcel_editor
from app.errors import DomainError, ValidationFailed
from app.parcels import far, lifecycle, overlap, rules
from app.parcels.classify import NOWHERE, Location, drop_pieces, locate, subdivided
from app.parcels.rules import Cap
from app.parcels.service import ParcelDraft
from app.policy import Policy
from gis.crs import STORAGE_SRID
from gis.geometry import problems
from models.base import current_sql

STAGE = "bulk_parcel_stage"
_FROM_STAGE = f"SELECT key, geom FROM {STAGE}"  # noqa: S608 (constant)
MEASURES = "bulk_parcel_measures"
_TICK_ROWS = 5000  # the rules loop reports progress and yields to the event loop this often
APART_ROWS = 1000  # from this many rows the measures are computed on a second connection (_measure_apart)
_CONNECT_SECONDS = 5  # a server that takes longer to give that connection is left alone
_SPOOL_BYTES = 64 * 2**20  # side measures (about 350 bytes a parcel) beyond this wait in a temporary file
_MEASURED = f"""SELECT i.key, m.area_m2, m.tile_geom, m.tile_point
                  FROM bulk_parcel_measure_input i
                       CROSS JOIN LATERAL parcel_measures(ST_GeomFromWKB(i.g, {STORAGE_SRID})) m"""  # noqa: S608

# progress(phase, done, total): phases "geometry", "staging", "locating", "rules", "inserting", and "overlaps"
# when refusals are listed row by row.
# It may be a coroutine function (a job writing its progress to the database) or a plain one (a terminal bar).
Progress = Callable[[str, int, int], Awaitable[None] | None]
# A row that passed the rules: its index in the input, where it is, what that makes it, its rule-3 cap.
Decided = tuple[int, Location, rules.Classification, Cap]
# The side connection's measures of a big batch, as binary COPY data (None: measure in the transaction).
Measuring = asyncio.Future[IO[bytes] | None] | None


@dataclass(frozen=True)
class Refused:
    """A row the rules refused: its index in the input, the SPEC code and the reason."""

    row: int
    code: str
    reason: str


@dataclass
class BulkResult:
    """What a bulk write did."""

    ids: list[int] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    accepted: int = 0  # rows that passed every rule (inserted unless all-or-nothing refused the batch)


async def report(progress: Progress | None, phase: str, done: int, total: int) -> None:
    """Tell `progress` (if any) how far a phase is, and let other tasks run meanwhile."""
    if progress is not None:
        outcome = progress(phase, done, total)
        if inspect.isawaitable(outcome):
            await outcome
    await asyncio.sleep(0)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction (for COPY)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


def _wkbs(geoms: Sequence[Any]) -> np.ndarray:
    return shapely.to_wkb(np.asarray(geoms, dtype=object))


def _decimal_texts(values: Iterable[float | None]) -> dict[float | None, str | None]:
    """Each distinct number as the exact decimal text of `Decimal(value)`: the numeric value asyncpg
    would send for it, read by PostgreSQL to the same numeric, but written out far faster."""
    return {v: None if v is None else str(Decimal(v)) for v in set(values)}


async def stage(session: AsyncSession, drafts: Sequence[ParcelDraft], keys: Sequence[int], wkbs: np.ndarray,
                row_numbers: Sequence[int] | None = None) -> None:
    """COPY the drafts at `keys` (their geometries as `wkbs`) into a private temporary table (dropped at
    commit, invisible to others). `row_numbers` are what refusals call each draft ("row 7"); by default its
    position + 1."""
    await session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    await session.execute(text(f"""
        CREATE TEMP TABLE {STAGE} (
            key integer NOT NULL, code text, land_use text, plot_ratio text, legacy_zone text,
            status text, g bytea, row_no integer,
            geom geometry(MultiPolygon, {STORAGE_SRID}) GENERATED ALWAYS AS (ST_GeomFromWKB(g, {STORAGE_SRID})) STORED
        ) ON COMMIT DROP
    """))  # plot_ratio: exact decimal text (_decimal_texts), read as numeric by the INSERT
    numbers = row_numbers if row_numbers is not None else range(1, len(drafts) + 1)
    ratios = _decimal_texts(drafts[i].plot_ratio for i in keys)
    records = [(i, drafts[i].code, drafts[i].land_use, ratios[drafts[i].plot_ratio], drafts[i].legacy_zone,
                drafts[i].status, wkbs[n], numbers[i]) for n, i in enumerate(keys)]
    apg = await driver_connection(session)
    columns = ["key", "code", "land_use", "plot_ratio", "legacy_zone", "status", "g", "row_no"]
    await apg.copy_records_to_table(STAGE, records=records, columns=columns)
    await session.execute(text(f"CREATE INDEX ON {STAGE} USING gist (geom)"))
    await session.execute(text(f"ANALYZE {STAGE} (key, geom)"))  # what locate and the insert plan by


async def bulk_create(session: AsyncSession, actor: Actor, policy: Policy, drafts: Sequence[ParcelDraft],
                      *, action: str = "bulk_create", all_or_nothing: bool = True,
                      row_numbers: Sequence[int] | None = None, progress: Progress | None = None,
                      audit_detail: Mapping[str, Any] | None = None, seed: bool = False) -> BulkResult:
    """Create many parcels. With `all_or_nothing`, any refused row leaves the database untouched and the
    refusals are returned (nothing inserted); otherwise the accepted rows are inserted. `row_numbers`
    name the drafts in reasons (an import's file rows); `progress` hears of each phase; `audit_detail` is
    added to the audit record of the batch. New industrial/R&D land enters the life cycle `planned` and
    only the bureau sets legacy zones (SPEC §4), unless `seed`: the demo city (app/demo) writes each
    parcel at the status its generated contracts and results give it."""
    result = BulkResult()
    if not drafts:
        return result
    total = len(drafts)
    # SPEC §2 first: invalid rows are refused and never reach PostGIS's geometry functions.
    await report(progress, "geometry", 0, total)
    reasons = await asyncio.to_thread(problems, [d.geom for d in drafts], policy.extent)
    result.refused.extend(Refused(i, "GEOMETRY_INVALID", r) for i, r in enumerate(reasons) if r)
    valid = [i for i, r in enumerate(reasons) if r is None]
    await report(progress, "staging", 0, total)
    wkbs = await asyncio.to_thread(_wkbs, [drafts[i].geom for i in valid])
    measuring = await _start_measuring(session, valid, wkbs)
    try:
        return await _write(session, actor, policy, drafts, valid, wkbs, measuring, result, action=action,
                            all_or_nothing=all_or_nothing, row_numbers=row_numbers, progress=progress,
                            audit_detail=audit_detail, seed=seed)
    finally:
        if measuring is not None:  # refused before the insert, or failed: the side connection stops too
            measuring.cancel()
            measured = (await asyncio.gather(measuring, return_exceptions=True))[0]
            if measured is not None and not isinstance(measured, BaseException):
                measured.close()


async def _write(session: AsyncSession, actor: Actor, policy: Policy, drafts: Sequence[ParcelDraft],
                 valid: list[int], wkbs: np.ndarray, measuring: Measuring, result: BulkResult, *, action: str,
                 all_or_nothing: bool, row_numbers: Sequence[int] | None, progress: Progress | None,
                 audit_detail: Mapping[str, Any] | None, seed: bool = False) -> BulkResult:
    """bulk_create after the geometry checks: stage, locate, decide, insert."""
    total = len(drafts)
    await stage(session, drafts, valid, wkbs, row_numbers)
    await report(progress, "locating", 0, total)
    pieces = await subdivided(session)
    located = await locate(session, _FROM_STAGE, {}, policy.tier_majority_share, pieces)
    await drop_pieces(session)
    codes = text(f"SELECT code FROM parcel WHERE {current_sql()} AND code = ANY(:c)")  # noqa: S608
    taken = set(await session.scalars(codes, {"c": [d.code for d in drafts]}))
    seen = Counter(d.code for d in drafts)

    # Rows share a few locations, uses and ratios: rights, classification and cap are decided once for each.
    rights: dict[str | None, DomainError | None] = {}
    classes: dict[tuple[str, rules.ZoneFacts | None], rules.Classification] = {}
    caps: dict[tuple[str, float | None, rules.ZoneFacts | None], Cap] = {}
    decided: list[Decided] = []
    for n, i in enumerate(valid):
        if n % _TICK_ROWS == 0:
            await report(progress, "rules", n, len(valid))
        draft = drafts[i]
        loc = located.get(i, NOWHERE)
        if loc.district_code not in rights:
            rights[loc.district_code] = _rights_refusal(actor, loc.district_code)
        if refusal := rights[loc.district_code]:  # the same refusal for every row of that district
            result.refused.append(Refused(i, refusal.code, refusal.detail))
            continue
        try:
            if draft.code in taken:
                raise ValidationFailed(f"code {draft.code} is already used by a current parcel")
            if seen[draft.code] > 1:
                raise ValidationFailed(f"code {draft.code} appears {seen[draft.code]} times in the batch")
            if not seed:  # the same SPEC §4 checks as one POST /parcels (app/parcels/service.py _decide)
                rules.check_legacy_zone(None, draft.legacy_zone, actor.is_bureau)
                lifecycle.check_transition(lifecycle.StatusChange(None, None, draft.status, draft.land_use),
                                           lifecycle.EDIT)
            cap = await _cap(session, policy, draft, loc, caps)
        except DomainError as exc:
            result.refused.append(Refused(i, exc.code, exc.detail))
            continue
        use = (draft.land_use, loc.zone)
        if use not in classes:
            classes[use] = rules.classify(draft.land_use, loc.zone)
        decided.append((i, loc, classes[use], cap))
    # SPEC §2, the last check of each row: no overlap with industrial land. The database's own guard (the
    # trigger parcel_overlap_guard) checks every insert, so when the batch would be written as it is, the
    # insert is simply tried and the guard is the one overlap check. Only when the guard refuses, or when
    # refusals must be reported anyway, are the overlaps listed row by row (the same pairs, each named).
    ids: list[int] | None = None
    rules_refused = len(result.refused) > len(drafts) - len(valid)  # beyond the geometry refusals
    if decided and not rules_refused and not (all_or_nothing and result.refused):
        await report(progress, "inserting", 0, len(decided))
        ids = await _try_insert(session, actor, policy, decided, measuring)
    if ids is None and decided:
        await report(progress, "overlaps", 0, total)
        overlaps = await overlap.overlaps_in_stage(session, policy, STAGE)
        kept: list[Decided] = []
        for entry in decided:
            if refusal := overlaps.get(entry[0]):
                result.refused.append(Refused(entry[0], refusal.code, refusal.detail))
            else:
                kept.append(entry)
        decided = kept
    result.refused.sort(key=lambda r: r.row)
    result.accepted = len(decided)
    if ids is None:
        if (result.refused and all_or_nothing) or not decided:
            await session.execute(text(f"DROP TABLE {STAGE}"))
            return result
        await report(progress, "inserting", 0, len(decided))
        ids = await _insert(session, actor, policy, decided, measuring)  # the guard: concurrent writers
    await session.execute(text(f"DROP TABLE {STAGE}"))
    result.ids = ids
    await audit.record(session, actor, action, "parcel", None, outcome="done",
                       detail={"created": len(ids), "refused": len(result.refused),
                               "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None,
                               **(audit_detail or {})})
    await report(progress, "inserting", len(decided), len(decided))
    return result


def _rights_refusal(actor: Actor, district_code: str | None) -> DomainError | None:
    """Why `actor` may not create parcels in this district, or None when they may."""
    try:
        require_parcel_editor(actor, [district_code], "create parcels")
    except DomainError as exc:
        return exc
    return None


def _overlap_refused(exc: DBAPIError) -> bool:
    """Whether the database's overlap guard refused the statement (SQLSTATE 23P01, its message)."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state == "23P01" and "overlaps parcel" in str(exc)


async def _try_insert(session: AsyncSession, actor: Actor, policy: Policy, decided: list[Decided],
                      measuring: Measuring) -> list[int] | None:
    """Insert in a savepoint; None (and nothing inserted) when the overlap guard refuses the batch."""
    try:
        async with session.begin_nested():
            return await _insert(session, actor, policy, decided, measuring)
    except DBAPIError as exc:
        if not _overlap_refused(exc):
            raise
        return None


async def _insert(session: AsyncSession, actor: Actor, policy: Policy, decided: list[Decided],
                  measuring: Measuring) -> list[int]:
    """INSERT … SELECT the decided rows from the stage with their derived columns; their new ids."""
    ids: list[int] = list(await session.scalar(text(
        "SELECT array_agg(id ORDER BY id) FROM (SELECT nextval('parcel_id_seq') AS id "
        "FROM generate_series(1, :n)) AS t"), {"n": len(decided)}))
    caps = _decimal_texts(cap.value for *_, cap in decided)
    derived = [
        (key, ids[n], loc.district_code, cls.tier, cls.zone_id, cls.planning_locked, caps[cap.value], cap.source,
         cap.reference_id)
        for n, (key, loc, cls, cap) in enumerate(decided)
    ]
    await session.execute(text("DROP TABLE IF EXISTS bulk_parcel_derived"))
    await session.execute(text("""
        CREATE TEMP TABLE bulk_parcel_derived (key integer PRIMARY KEY, id bigint, district_code text, tier text,
            zone_id bigint, planning_locked boolean, cap text, cap_source text, reference_id bigint) ON COMMIT DROP
    """))
    apg = await driver_connection(session)
    await apg.copy_records_to_table("bulk_parcel_derived", records=derived)
    await _measures(session, await measuring if measuring is not None else None)
    before = await _set_local(session, {
        # The overlap guard (a statement trigger, migration 0006) probes the new rows through the GiST index of
        # `parcel`; it measures with this batch's tolerance, so it refuses exactly what
        # `overlap.overlaps_in_stage` would list. Seq scans are off: the index is always right for these statements.
        "enable_seqscan": "off", "work_mem": "256MB",  # sorts 100,000 rows
        "landcycle.overlap_tolerance_m2": str(policy.overlap_tolerance_m2),
        # This INSERT brings area_m2, tile_geom and tile_point (trigger parcel_measures, migration 0007).
        "landcycle.parcel_measures": "supplied"})
    await session.execute(text(f"""
        INSERT INTO parcel (id, version, code, land_use, plot_ratio, plot_ratio_reference_id,
                            plot_ratio_cap, plot_ratio_cap_source, legacy_zone, status, district_code,
                            tier, zone_id, planning_locked, geom, area_m2, tile_geom, tile_point, changed_by)
        SELECT d.id, 1, s.code, s.land_use, s.plot_ratio::numeric, d.reference_id, d.cap::numeric, d.cap_source,
               s.legacy_zone, s.status, d.district_code, d.tier, d.zone_id, d.planning_locked, s.geom,
               m.area_m2, m.tile_geom, m.tile_point, :actor
          FROM {STAGE} s JOIN bulk_parcel_derived d USING (key) JOIN {MEASURES} m USING (key)
         ORDER BY d.id
    """), {"actor": actor.username})  # noqa: S608 (constant table names)
    await _set_local(session, before)
    await session.execute(text(f"DROP TABLE bulk_parcel_derived, {MEASURES}"))
    return ids


async def _measures(session: AsyncSession, measured: IO[bytes] | None) -> None:
    """Every staged row's measures by parcel_measures(), the trigger's own function, in the temporary table
    MEASURES: copied in as the side connection computed them, else computed here."""
    await session.execute(text(f"DROP TABLE IF EXISTS {MEASURES}"))
    if measured is not None:
        await session.execute(text(f"CREATE TEMP TABLE {MEASURES} (key integer, area_m2 float8, tile_geom geometry, "
                                   "tile_point geometry) ON COMMIT DROP"))
        apg = await driver_connection(session)
        measured.seek(0)  # (a second try of the insert reads it again)
        await apg.copy_to_table(MEASURES, source=measured, format="binary")
        return
    await session.execute(text(f"""
        CREATE TEMP TABLE {MEASURES} ON COMMIT DROP AS
        SELECT s.key, m.area_m2, m.tile_geom, m.tile_point FROM {STAGE} s CROSS JOIN LATERAL parcel_measures(s.geom) m
    """))  # noqa: S608 (constant table names)


async def _start_measuring(session: AsyncSession, keys: Sequence[int], wkbs: np.ndarray) -> Measuring:
    """Measure a big batch on a second connection meanwhile (a task), or not (None: the insert will)."""
    bind = session.bind
    if len(keys) < APART_ROWS or bind is None:
        return None
    url = bind.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    limit = await session.scalar(text("SELECT current_setting('statement_timeout')"))
    return asyncio.ensure_future(_measure_apart(url, limit, keys, wkbs))


async def _measure_apart(url: str, limit: str, keys: Sequence[int], wkbs: np.ndarray) -> IO[bytes] | None:
    """parcel_measures() of `(key, wkb)` rows on a connection of its own to the database at `url` (not
    from the pool: it never waits for one), under the statement timeout (`limit`) of the transaction it
    works for: the rows as binary COPY data (key, area_m2, tile_geom, tile_point) in a spooled temporary
    file, or None when no connection could be had or it failed. It writes nothing to the database: a
    temporary table dropped with its transaction (and with the connection)."""
    try:
        conn = await asyncpg.connect(url, timeout=_CONNECT_SECONDS, server_settings={
            "application_name": "landcycle measures", "statement_timeout": limit})
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return None
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (the insert closes it)
    try:
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE bulk_parcel_measure_input (key integer, g bytea) ON COMMIT DROP")
            await conn.copy_records_to_table("bulk_parcel_measure_input", records=zip(keys, wkbs, strict=True))
            await conn.copy_from_query(_MEASURED, output=spool, format="binary")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        spool.close()
        return None
    except BaseException:  # cancelled (the batch was refused meanwhile)
        spool.close()
        raise
    finally:
        conn.terminate()  # nothing to keep: no need to wait for a clean close
    return spool


async def _set_local(session: AsyncSession, values: Mapping[str, str]) -> dict[str, str]:
    """Set these settings until the transaction ends (or they are set back); their previous values."""
    names = list(values)
    rows = await session.execute(text("SELECT name, coalesce(current_setting(name, true), '') "
                                      "FROM unnest(CAST(:n AS text[])) AS t(name)"), {"n": names})
    before: dict[str, str] = {name: value for name, value in rows}
    await session.execute(text("SELECT set_config(name, value, true) "
                               "FROM unnest(CAST(:n AS text[]), CAST(:v AS text[])) AS t(name, value)"),
                          {"n": names, "v": [values[n] for n in names]})
    return before


async def _cap(session: AsyncSession, policy: Policy, draft: ParcelDraft, loc: Location,
               known: dict[tuple[str, float | None, rules.ZoneFacts | None], Cap]) -> Cap:
    """Rule 3 for one staged row, as for a single write (`far.far_cap`). `known` remembers the caps that
    depend on land use, ratio and zone alone (most rows share a few): all but the rare rows whose ratio is
    above the base cap, for which reference parcels are looked up."""
    key = (draft.land_use, draft.plot_ratio, loc.zone)
    if key in known:
        return known[key]
    cap = await far.far_cap(session, policy, land_use=draft.land_use, requested=draft.plot_ratio, zone=loc.zone,
                            geom=draft.geom, reference_id=draft.plot_ratio_reference_id)
    if not rules.reference_needed(draft.land_use, draft.plot_ratio, loc.zone, policy):
        known[key] = cap
    return cap
