"""FastAPI dependencies: settings, the request's transaction, the authenticated actor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app import replicas
from app.audit.service import audited_transaction
from app.auth.permissions import ANONYMOUS, Actor
from app.db import Database
from app.errors import Unauthenticated
from app.features.versions import CountCache
from app.settings import Settings
from app.state import AppState


# Plain accessors of the app's state, for code that holds the request (routes, /wfs, the fast path).
def app_state(request: Request) -> AppState:
    """The app's state (app/state.py, built by create_app)."""
    state: AppState = request.app.state
    return state


def app_settings(request: Request) -> Settings:
    """The app's settings (built by create_app)."""
    return app_state(request).settings


def app_database(request: Request) -> Database:
    """The app's Database."""
    return app_state(request).db


def app_counts(request: Request) -> CountCache:
    """The app's cache of collection counts (keyed by collection version)."""
    return app_state(request).counts


# The dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency in
# its thread pool, a thread hop per dependency per request (profiled: a third of GET-by-id time;
# bench/RESULTS.md "REST API").
async def get_settings(request: Request) -> Settings:
    """The app's settings (dependency)."""
    return app_settings(request)


async def get_database(request: Request) -> Database:
    """The app's Database (dependency)."""
    return app_database(request)


async def get_counts(request: Request) -> CountCache:
    """The app's cache of collection counts (dependency)."""
    return app_counts(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response is sent, rolled back on any error;
    a refused rule attempt is then written to the audit log in a transaction of its own."""
    async with audited_transaction(app_database(request), lambda: getattr(request.state, "actor", None)) as session:
        yield session


def client_address(request: Request) -> str:
    """The client's address as seen by the server (for login rate limits)."""
    return request.client.host if request.client else "unknown"


# RFC 9110 §9.2.1: the methods that only read; the public (LANDCYCLE_PUBLIC_READ) may use these alone.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticate(request: Request, authorization: str | None) -> Actor:
    """Credentials from an Authorization header → Actor (shared by REST and /wfs). Also tells the read
    router (app/replicas.py) who reads and whether the request only reads (standbys may serve it)."""
    replicas.read_request.set(replicas.reads_only(request.method, request.url.path))
    actor = await _authenticate(request, authorization)
    replicas.reading_as.set(actor.id if actor is not ANONYMOUS else None)
    return actor


async def _authenticate(request: Request, authorization: str | None) -> Actor:
    auth = app_state(request).authenticator
    settings = app_settings(request)
    if not authorization:
        if settings.public_read and request.method in SAFE_METHODS:
            return ANONYMOUS
        raise Unauthenticated("log in: HTTP Basic, or a bearer token from POST /api/v1/auth/token")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        return await auth.from_token(value.strip())
    if scheme.lower() == "basic" and value:
        try:
            username, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        if not sep or not username:
            raise Unauthenticated("malformed Basic credentials")
        return await auth.from_basic(username, password, client_address(request))
    raise Unauthenticated("unsupported authorization scheme; use Basic or Bearer")


async def get_actor(request: Request) -> Actor:
    """The authenticated user (or the anonymous reader when public read is on, for safe methods only)."""
    actor = await authenticate(request, request.headers.get("authorization"))
    request.state.actor = actor
    return actor


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ActorDep = Annotated[Actor, Depends(get_actor)]
CountsDep = Annotated[CountCache, Depends(get_counts)]
