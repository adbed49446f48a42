"""HTTP for plot-ratio requests (SPEC §5 /plot-ratio-requests)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request
from starlette.responses import Response

from app.calendar import CITY_TZ, city_today
from app.deps import ActorDep, SessionDep, SettingsDep
from app.features.paging import clamp_limit, page_links
from app.features.params import etag, if_match_version
from app.parcels.schemas import Link
from app.requests import service
from app.requests.schemas import DecisionIn, NoticeIn, RequestCreate, RequestPage, RequestRead, RequestStatus, Route
from app.requests.workflow import age_days
from app.responses import JSON
from app.settings import Settings
from models import PlotRatioRequest

router = APIRouter(prefix="/plot-ratio-requests", tags=["plot-ratio requests"])
RequestId = Annotated[int, Path(ge=1, le=2**62)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _read(row: PlotRatioRequest, today: date) -> RequestRead:
    submitted_on = row.submitted_at.astimezone(CITY_TZ).date()
    end = row.decided_at or row.withdrawn_at
    until = end.astimezone(CITY_TZ).date() if end else today
    data = {c: getattr(row, c) for c in RequestRead.model_fields if c != "age_days"}
    return RequestRead(**data, age_days=age_days(submitted_on, until))


def _response(row: PlotRatioRequest, settings: Settings, status_code: int = 200) -> Response:
    return JSON(_read(row, city_today(settings.today)).model_dump(mode="json"), status_code=status_code,
                headers={"ETag": etag(row.version)})


@router.post("", status_code=201, response_model=RequestRead, summary="Submit a plot-ratio request")
async def submit(request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
                 body: Annotated[RequestCreate, Body()]) -> Response:
    """Rule 9: a district officer of the parcel's district (or the bureau) asks to raise its plot ratio.
    Up to the default cap the district decides; above it the city, with a reference parcel (rule 3)."""
    row = await service.submit(session, actor, settings.policy, city_today(settings.today), body.parcel_id,
                               body.requested_plot_ratio, body.reason, body.reference_parcel_id)
    response = _response(row, settings, 201)
    response.headers["Location"] = f"{request.url.path}/{row.id}"
    return response


@router.get("", response_model=RequestPage, summary="The request queue")
async def queue(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    status: RequestStatus | None = None,
    route: Route | None = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    parcel_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> RequestPage:
    """Requests, oldest first, with their age in days; district officers see their own district's."""
    size = clamp_limit(limit, settings)
    total, rows = await service.list_requests(
        session, actor, service.RequestFilter(status, route, district_code, parcel_id), size, offset)
    links = page_links(request, settings, offset, size, len(rows), total, "application/json")
    today = city_today(settings.today)
    return RequestPage(items=[_read(r, today) for r in rows], numberMatched=total, numberReturned=len(rows),
                       links=[Link(**link) for link in links])


@router.get("/{request_id}", response_model=RequestRead, summary="One request")
async def get_request(session: SessionDep, actor: ActorDep, settings: SettingsDep,
                      request_id: RequestId) -> Response:
    """A request with its ETag."""
    row = await service.load(session, request_id)
    await service.require_visible(session, actor, row)
    return _response(row, settings)


@router.post("/{request_id}/notice", response_model=RequestRead, summary="Record the public notice")
async def notice(session: SessionDep, actor: ActorDep, settings: SettingsDep, request_id: RequestId,
                 body: Annotated[NoticeIn, Body()], if_match: IfMatch = None) -> Response:
    """submitted → public_notice: the notice's dates (7–30 days; a notice already held may lie in the past)."""
    row = await service.record_notice(session, actor, request_id, body.starts_on, body.ends_on,
                                      if_match_version(if_match))
    return _response(row, settings)


@router.post("/{request_id}/decision", response_model=RequestRead, summary="Approve or reject")
async def decision(session: SessionDep, actor: ActorDep, settings: SettingsDep, request_id: RequestId,
                   body: Annotated[DecisionIn, Body()], if_match: IfMatch = None) -> Response:
    """After the notice: approve (the parcel takes the new plot ratio at once) or reject. Never by the
    submitter; city-route requests by the bureau only."""
    row = await service.decide(session, actor, settings.policy, city_today(settings.today), request_id,
                               body.decision == "approve", body.note, if_match_version(if_match))
    return _response(row, settings)


@router.post("/{request_id}/withdraw", response_model=RequestRead, summary="Withdraw")
async def withdraw(session: SessionDep, actor: ActorDep, settings: SettingsDep, request_id: RequestId,
                   if_match: IfMatch = None) -> Response:
    """The submitter withdraws an open request."""
    row = await service.withdraw(session, actor, request_id, if_match_version(if_match))
    return _response(row, settings)
