"""HTTP for the reports (SPEC §5): JSON, or CSV with `?f=csv`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.auth.permissions import contract_scope
from app.calendar import CITY_TZ, city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.evaluations.query import as_json, count, select_evaluations
from app.features.paging import clamp_limit, page_links
from app.features.params import as_of_param
from app.reports import accountability, service
from app.responses import JSON
from gis.io import csv_text

router = APIRouter(prefix="/reports", tags=["reports"])
Format = Annotated[Literal["json", "csv"], Query(alias="f", description="json (default) or csv")]
CSV = "text/csv; charset=utf-8"
JSON_OR_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}
DUE_COLUMNS = ("id", "due_on", "status", "days_overdue", "stage", "seq", "contract_id", "contract_code",
               "parcel_id", "parcel_code", "district_code", "responsible_org_id", "responsible_org_name",
               "enterprise_id", "enterprise_name")


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]], name: str) -> Response:
    """A report's table as CSV: always after a byte-order mark, for the spreadsheet it is opened in."""
    body = csv_text([columns, *([row.get(c) for c in columns] for row in rows)], bom=True)
    return Response(body.encode(), media_type=CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/industrial-land", responses=JSON_OR_CSV, summary="Industrial land against the targets")
async def industrial_land(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                          as_of: Annotated[str | None,
                                           Query(description="date or date-time (rule 10)")] = None,
                          f: Format = "json") -> Response:
    """Rule 11: industrial + R&D land not exited, in km² by tier, district, legacy zone and planning-locked
    base land, beside 550 km² (2020), 320–480 km² (2035) and ≥ 150 km² base land (2025)."""
    report = await service.industrial_land(session, settings.policy, as_of_param(as_of),
                                           city_today(settings.today))
    if f == "json":
        return JSON(report)
    rows: list[dict[str, Any]] = [{"group": "total", "key": "", **report["total"],
                                   "target": f"2020: {report['total']['target_2020_km2']:g}; 2035: "
                                             f"{report['total']['band_2035_km2'][0]:g}–"
                                             f"{report['total']['band_2035_km2'][1]:g}"}]
    rows += [{"group": "tier", "key": r["tier"], **r} for r in report["by_tier"]]
    rows += [{"group": "district", "key": r["district_code"], **r} for r in report["by_district"]]
    rows += [{"group": "legacy_zone", "key": r["legacy_zone"] or "", **r} for r in report["by_legacy_zone"]]
    base = report["base_for_advanced_manufacturing"]
    rows.append({"group": "base_for_advanced_manufacturing", "key": "", **base,
                 "target": f"2025: >= {base['target_2025_min_km2']:g}"})
    rows.append({"group": "exited", "key": "", **report["exited"]})
    return _csv(("as_of", "group", "key", "parcels", "area_m2", "km2", "target"),
                ({"as_of": report["as_of"], **r} for r in rows), f"industrial-land-{report['as_of']}")


@router.get("/evaluations-due", responses=JSON_OR_CSV, summary="Evaluations due")
async def evaluations_due(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    f: Format = "json",
) -> Response:
    """Pending evaluations due within `within_days` (overdue ones first, by due date), with counts per
    district; a district officer's or evaluator's queue is their district's, an org_manager's its
    organisation's (SPEC §4)."""
    today = city_today(settings.today)
    scope = contract_scope(actor, district_code, "read the evaluations due")
    q, summary = await service.evaluations_due(session, today, within_days, scope.district_code,
                                                 scope.organisation_id)
    if f == "csv":
        rows = await session.execute(select_evaluations(q))
        return _csv(DUE_COLUMNS, (as_json(r, today) for r in rows), f"evaluations-due-{today.isoformat()}")
    size = clamp_limit(limit, settings)
    total = int(await session.scalar(count(q)) or 0)
    items = [as_json(r,
                     today) for r in await session.execute(select_evaluations(q).limit(size).offset(offset))]
    return JSON({**summary, "items": items, "numberMatched": total, "numberReturned": len(items),
                 "links": page_links(request, settings, offset, size, len(items), total, "application/json")})


@router.get("/efficiency", responses=JSON_OR_CSV, summary="Efficiency scores and A–D classes")
async def efficiency(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="default: the current year")] = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    industry_code: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    f: Format = "json",
) -> Response:
    """Each contract in force at the end of `year` scored on its latest result (tax 45 / output 35 / green
    20 by default) and classed A–D by rank city-wide; filters narrow the list, not the ranking. A district
    officer or evaluator is listed its district's contracts only, an org_manager its organisation's
    (SPEC §4)."""
    today = city_today(settings.today)
    scope = contract_scope(actor, district_code, "read the efficiency report")
    report = await service.efficiency_report(session, settings.policy, year or today.year, today, scope)
    kept = report.select(industry_code)
    if f == "csv":
        return _csv(service.COLUMNS, report.items(kept), f"efficiency-{report.year}")
    size = clamp_limit(limit, settings)
    page = report.items(kept[offset:offset + size])
    return JSON({**report.summary(settings.policy), "items": page, "numberMatched": len(kept),
                 "numberReturned": len(page),
                 "links": page_links(request, settings, offset, size, len(page), len(kept),
                                     "application/json")})




@router.get("/accountability", responses=JSON_OR_CSV, summary="Accountability per responsible organisation")
async def accountability_report(
    session: SessionDep, actor: ActorDep, settings: SettingsDep,
    as_of: Annotated[str | None, Query(description="date or date-time (rule 10); default today")] = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    f: Format = "json",
) -> Response:
    """SPEC §1 谁提出、谁管理: a row per responsible organisation — contracts in force, in rectification,
    evaluations overdue, latest result below the bottom line, exit candidates (contracts and reasons),
    exit cases open and completed, hectares and mu managed — most overdue first, with totals. Bureau, admin
    and viewer read every organisation; a district officer or evaluator the figures of its district's
    contracts; an org_manager its own row (SPEC §4)."""
    scope = contract_scope(actor, district_code, "read the accountability report")
    moment = as_of_param(as_of)
    # The day of `as_of` in Shanghai (an offset given is converted), as the rows it reads (rule 10).
    day = moment.astimezone(CITY_TZ).date() if moment is not None else city_today(settings.today)
    report = await accountability.report(session, settings.policy, day, moment, scope.district_code,
                                         scope.organisation_id)
    if f == "csv":
        return _csv(accountability.CSV_COLUMNS, accountability.csv_rows(report), f"accountability-{day}")
    return JSON(accountability.as_json(report))
