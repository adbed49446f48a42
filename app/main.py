"""The FastAPI application: `create_app(settings)` builds engine, routers and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from app.audit.routes import router as audit_router
from app.auth.routes import router as auth_router
from app.contracts.routes import router as contracts_router
from app.db import Database, create_engine
from app.deps import app_database
from app.districts.routes import router as districts_router
from app.enterprises.routes import router as enterprises_router
from app.errors import DomainError
from app.evaluations.routes import router as evaluations_router
from app.exits.routes import router as exits_router
from app.exports.routes import router as exports_router
from app.imports.routes import router as imports_router
from app.limits import BodyLimitMiddleware
from app.measurements.routes import router as measurements_router
from app.observability import RequestIdMiddleware
from app.ogc.fast_path import OgcFeatureFastPath
from app.ogc.routes import router as ogc_router
from app.organisations.routes import router as organisations_router
from app.parcels.fast_path import ParcelFeatureFastPath
from app.parcels.routes import router as parcels_router
from app.ratings.routes import router as ratings_router
from app.replicas import ReplicaRetry
from app.reports.routes import router as reports_router
from app.requests.routes import router as requests_router
from app.responses import JSON, PROBLEM_RESPONSES, domain_error_handler, http_error_handler, validation_error_handler
from app.settings import Settings
from app.state import AppState
from app.tiles.routes import router as tiles_router
from app.web.routes import mount as mount_web
from app.wfs.routes import router as wfs_router
from app.zones.routes import router as zones_router
from gis.errors import CrsError, GeometryError

API = "/api/v1"


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app; tests hand in their own Settings and a Database bound to a test transaction."""
    settings = settings or Settings()
    settings.signing_key  # noqa: B018 — refuse to start with a short or placeholder key (InsecureKey)
    db = database or Database(create_engine(settings), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.start()  # standby checks and the write listener (nothing without DATABASE_REPLICA_URLS)
        yield
        await state.import_jobs.shutdown()  # running imports roll back
        state.authenticator.close()  # the argon2 threads
        await db.dispose()

    app = FastAPI(
        title="Landcycle",
        summary="Full-life-cycle management of a city's industrial land",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state = state = AppState(settings, db)

    # Errors with a SPEC code of their own are mapped here; `Exception` last, for the true 500s.
    # asyncpg's own errors come from the raw read paths (app/parcels/reads.py, app/wfs/getfeature.py, tiles):
    # a data error or a statement timeout there is the client's 422 or a 503, like SQLAlchemy's.
    for error in (DomainError, CrsError, GeometryError, DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(error, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, domain_error_handler)
    # Innermost first: the GET-by-id fast paths (REST and OGC API), body limits, gzip when the client asks
    # (GeoJSON shrinks ~4×; level 5 keeps a 100,000-parcel stream CPU-cheap), request ids and access log outermost.
    app.add_middleware(ParcelFeatureFastPath, prefix=API)
    app.add_middleware(OgcFeatureFastPath)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       overrides={f"{API}/imports": settings.import_ceiling_mb * 1024 * 1024,
                                  f"{API}/measurements/batches": settings.import_ceiling_mb * 1024 * 1024},
                       timeout_seconds=settings.body_timeout_seconds)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    if settings.replica_urls:  # a read that fails on a standby is answered again on the primary
        app.add_middleware(ReplicaRetry, router=lambda: app.state.db.router)
    app.add_middleware(RequestIdMiddleware)

    # Routers join the app directly (not through one /api/v1 router: every nesting level is matched per
    # request). The export route before `/parcels/{parcel_id}`, which would otherwise take `export` for an id.
    for router in (exports_router, parcels_router, zones_router, districts_router, auth_router, requests_router,
                   audit_router, imports_router, enterprises_router, organisations_router, contracts_router,
                   evaluations_router, exits_router, reports_router, measurements_router, ratings_router):
        app.include_router(router, prefix=API, responses=PROBLEM_RESPONSES)
    app.include_router(tiles_router, responses=PROBLEM_RESPONSES)
    app.include_router(wfs_router)
    app.include_router(ogc_router)
    app.include_router(_service_router())
    mount_web(app, settings.web_dir)
    return app


def _service_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz(request: Request) -> Response:
        """The process is up; with standbys, each one's health and lag as this worker last checked them."""
        router_ = app_database(request).router
        if router_ is None:
            return JSON({"status": "ok"})
        return JSON({"status": "ok", "replicas": router_.describe()})

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        """The database answers and the schema is at the migrations' head."""
        from app.migrate import head_revision

        try:
            async with app_database(request).connection() as conn:
                current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        except Exception:  # any failure to reach the database means not ready
            return JSON({"status": "unavailable", "database": "unreachable"}, status_code=503)
        head = head_revision()
        body: dict[str, Any] = {"status": "ok" if current == head else "migrations pending",
                                "database": "ok", "revision": current, "head": head}
        return JSON(body, status_code=200 if current == head else 503)

    return router
