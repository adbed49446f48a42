"""JSON and problem+json responses (orjson), and the mapping of every failure to a SPEC code."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.context import request_id
from app.db import pool_exhausted
from app.errors import (
    ContractConflict,
    DomainError,
    GeometryInvalid,
    HttpError,
    NotFound,
    ParcelOverlap,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
    VersionConflict,
)
from gis.errors import CrsError, GeometryError

log = logging.getLogger("landcycle.errors")
PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details with the SPEC code and the rule's numbers (extra members)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None


_PROBLEM_SCHEMA = {"application/problem+json": {"schema": Problem.model_json_schema()}}
# Documented on every API operation (OpenAPI): the errors any of them may answer.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": _PROBLEM_SCHEMA}
    for status, what in (
        (400, "CRS_UNSUPPORTED or another malformed parameter"),
        (401, "UNAUTHENTICATED"),
        (403, "FORBIDDEN_ROLE, FORBIDDEN_DISTRICT or SELF_APPROVAL_FORBIDDEN"),
        (404, "NOT_FOUND"),
        (408, "REQUEST_TIMEOUT: the body did not arrive in time"),
        (409, "A rule refused the write (LOCKUP_*, FAR_*, *_CONFLICT, INVALID_TRANSITION, …)"),
        (412, "VERSION_CONFLICT: If-Match names an older version"),
        (413, "PAYLOAD_TOO_LARGE"),
        (422, "VALIDATION_ERROR or GEOMETRY_INVALID"),
        (429, "TOO_MANY_REQUESTS: failed logins"),
        (503, "SERVICE_UNAVAILABLE: the database is unreachable or too slow"),
    )
}


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(data: Any) -> bytes:
    """orjson with dates, decimals and anything else rendered as text."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSON(Response):
    """A JSON response serialised with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def created(request: Request, body: Any, new_id: int) -> JSON:
    """201 Created with the new resource and its URL (`Location`: this collection's path and the id)."""
    return JSON(body, status_code=201, headers={"Location": f"{request.url.path}/{new_id}"})


def problem_response(error: DomainError, request: Request | None = None) -> Response:
    """An RFC 9457 problem+json response for a DomainError."""
    body = error.problem()
    if request is not None:
        body["instance"] = request.url.path
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    headers: dict[str, str] = {}
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Basic realm="Landcycle", Bearer'
    if "retry_after" in error.numbers:
        headers["Retry-After"] = str(error.numbers["retry_after"])
    return Response(dumps(body), status_code=error.status, media_type=PROBLEM, headers=headers)


def as_domain_error(exc: BaseException) -> DomainError:
    """Any exception → the DomainError a client should see (never the exception's own text for 500s)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, CrsError):
        from app.errors import CrsUnsupported

        return CrsUnsupported(str(exc))
    if isinstance(exc, GeometryError):
        return GeometryInvalid(str(exc), reason=str(exc))
    if isinstance(exc, IntegrityError):
        return _integrity(exc)
    if isinstance(exc, PoolTimeout):  # the engine's pool stayed full for its pool timeout
        return pool_exhausted()
    # The raw read paths (asyncpg without SQLAlchemy) raise asyncpg's own errors; SQLAlchemy wraps the same
    # ones. A value asyncpg cannot encode (an id beyond int8) is an InterfaceError to both, not a lost database.
    if _is_unencodable(exc):
        return ValidationFailed("a value is out of range or malformed for its field")
    sqlstate = _sqlstate(exc)
    if sqlstate == "57014":  # statement_timeout (or a cancel): the query, not the database, is the problem
        return ServiceUnavailable("the query took too long and was cancelled; narrow it down or retry later",
                                  retry_after=QUERY_RETRY_AFTER)
    if sqlstate in ("40001", "40P01"):
        return VersionConflict("a concurrent change won; reload and retry")
    if sqlstate in ("22021", "22P05"):  # a NUL character or bytes that are not UTF-8
        return ValidationFailed("text may not contain NUL characters or bytes that are not UTF-8")
    if sqlstate and sqlstate.startswith("22"):  # other data exceptions: overflow, out-of-range dates …
        return ValidationFailed("a value is out of range or malformed for its field")
    if sqlstate and sqlstate.startswith("08"):
        return ServiceUnavailable("the database connection was lost; retry shortly")
    if isinstance(exc, OperationalError | InterfaceError) or _is_connection_error(exc):
        return ServiceUnavailable("the database is not reachable right now; retry shortly")
    return DomainError("an internal error occurred; it was logged with the request id")


QUERY_RETRY_AFTER = 10  # seconds, after a statement timeout


def _is_unencodable(exc: BaseException) -> bool:
    """asyncpg refused to encode an argument (its client-side DataError), raw or wrapped by SQLAlchemy."""
    from asyncpg.exceptions._base import DataError as ArgumentError

    for err in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        if isinstance(err, ArgumentError):
            return True
    return False


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an asyncpg error, raw or wrapped by SQLAlchemy (None for anything else)."""
    own = getattr(exc, "sqlstate", None)
    if isinstance(own, str):
        return own
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def _constraint(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    return getattr(orig, "constraint_name", None) or getattr(cause, "constraint_name", None)


def _is_connection_error(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(exc, OSError | ConnectionError | asyncpg.exceptions.ConnectionDoesNotExistError
                      | asyncpg.exceptions.CannotConnectNowError | asyncpg.exceptions.InterfaceError)


def _integrity(exc: IntegrityError) -> DomainError:
    sqlstate = _sqlstate(exc)
    message = str(getattr(exc, "orig", exc)).split("\n")[0]
    if sqlstate == "23P01":
        return ParcelOverlap(message.split(": ", 1)[-1])
    if sqlstate == "23505":
        if _constraint(exc) == "uq_contract_holding_parcel":  # SPEC §6: one holding contract per parcel
            return ContractConflict("another contract holds the parcel (signed at the same moment); reload")
        return VersionConflict("a concurrent change created the same record; reload and retry")
    return ValidationFailed("the change breaks a constraint of the database")


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    """problem+json for everything; 500s are logged with their traceback and answered without it."""
    error = as_domain_error(exc)
    if error.status >= 500 and not isinstance(exc, DomainError):
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path,
                  exc_info=exc)
    return problem_response(error, request)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI/pydantic shape errors → VALIDATION_ERROR with where and what (never the input echoed)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))[:200]}
        for err in exc.errors()[:20]
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'][1:] or first['loc'])}: {first['msg']}"
    return problem_response(ValidationFailed(detail, errors=errors), request)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 as problem+json."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return problem_response(NotFound(f"no resource at {request.url.path}"), request)
    if exc.status_code == 400:  # e.g. a body that is not UTF-8: a shape error like any other
        return problem_response(ValidationFailed(f"the request could not be read: {exc.detail}"), request)
    allowed = exc.status_code == 405
    error = HttpError(str(exc.detail), status=exc.status_code,
                      code="METHOD_NOT_ALLOWED" if allowed else "HTTP_ERROR",
                      title="Method not allowed" if allowed else "HTTP error")
    response = problem_response(error, request)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response
