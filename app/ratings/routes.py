"""HTTP for 亩均 ratings (`/api/v1/ratings`): rate a year (bureau), list ratings (JSON or CSV), the runs,
and each parcel's class for the map layer. Enterprise figures are never public (SPEC §4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.auth.permissions import contract_scope
from app.calendar import city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.features.paging import clamp_limit, json_page
from app.ratings import service
from app.responses import JSON
from gis.io import csv_text

router = APIRouter(prefix="/ratings", tags=["ratings"])
Year = Annotated[int, Path(ge=1990, le=2100)]
District = Annotated[str | None, Query(pattern=r"^\d{6}$")]
Format = Annotated[Literal["json", "csv"], Query(alias="f", description="json (default) or csv")]
JSON_OR_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.post("/{year}", summary="Rate a year (亩均)")
async def rate_year(session: SessionDep, actor: ActorDep, settings: SettingsDep, year: Year) -> Response:
    """Bureau: A–D classes of every enterprise with land in force on 31 Dec of `year` or figures of that
    year, from the latest delivered figures and the policy's weights, cut-offs and threshold; replaces the
    year's run (audited with the counts it replaced). Answers the run: counts per class and the policy."""
    return JSON(await service.rate_year(session, actor, settings.policy, year, city_today(settings.today)))


@router.get("", responses=JSON_OR_CSV, summary="亩均 ratings of enterprises")
async def list_ratings(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    cls: Annotated[Literal["A", "B", "C", "D"] | None, Query(alias="class")] = None,
    district_code: District = None,
    enterprise_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    parcel_id: Annotated[int | None, Query(ge=1, le=2**62, description="the enterprise holding it")] = None,
    listed: Annotated[Literal["rectification"] | None,
                      Query(description="rectification: the classes listed for rectification")] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    f: Format = "json",
) -> Response:
    """Ratings, latest year first, by district and rank: land, figures, indicators, score, rank within the
    group, class (or why not rated). A district officer or evaluator reads the enterprises with land in
    its district, an org_manager those holding its organisation's contracts (SPEC §4)."""
    scope = contract_scope(actor, district_code, service.READ)
    params = service.list_params(settings.policy, scope, year, cls, district_code, enterprise_id, parcel_id,
                                 listed == "rectification")
    if f == "csv":
        _, rows = await service.list_ratings(session, settings.policy, params, None)
        body = csv_text([service.COLUMNS, *([service.csv_row(r).get(c) for c in service.COLUMNS] for r in rows)],
                        bom=True)
        name = f"ratings-{year}" if year else "ratings"
        return Response(body.encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    size = clamp_limit(limit, settings)
    total, items = await service.list_ratings(session, settings.policy, params, size, offset)
    return JSON(json_page(request, settings, items, total, offset, size))


@router.get("/runs", summary="Rated years")
async def list_runs(session: SessionDep, actor: ActorDep) -> Response:
    """Every rated year: counts per class, who rated it when, and the policy numbers used."""
    contract_scope(actor, None, service.READ)
    return JSON({"items": await service.runs(session)})


@router.get("/parcels", summary="Each parcel's 亩均 class (map layer)")
async def parcel_classes(session: SessionDep, actor: ActorDep,
                         year: Annotated[int | None, Query(ge=1990, le=2100,
                                                           description="default: the latest rated")] = None
                         ) -> Response:
    """`{"year", "classes": {parcel id: class}}`: the class of the enterprise holding each parcel under a
    contract in force on 31 Dec, within the reader's scope."""
    scope = contract_scope(actor, None, service.READ)
    return JSON(await service.parcel_classes(session, scope, year))
