"""Test harness: a real PostGIS database, migrated once per session (so migrations are tested), and
each test in a transaction that is rolled back at its end (STYLE habit 6).

Which database: TEST_DATABASE_URL, else the server of DATABASE_URL with "<name>_test" (created, with
PostGIS, when missing). Tests marked `live` commit for real (concurrency, subprocesses) and clean up.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app import migrate
from app.db import BoundDatabase, Database, create_engine
from app.main import create_app
from app.settings import Settings
from tests import builders


def _test_url() -> str:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return Settings(database_url=explicit).async_database_url
    base = make_url(Settings().async_database_url)
    return base.set(database=f"{base.database}_test").render_as_string(hide_password=False)


async def _ensure_database(url: str) -> None:
    """Create the test database (and PostGIS in it) when missing and we are allowed to."""
    target = make_url(url)
    try:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await engine.dispose()
        return
    except Exception as exc:
        if "does not exist" not in str(exc):
            raise
    admin = create_async_engine(target.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    await admin.dispose()


TEST_URL = _test_url()


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: the test database, a fixed key, plain-text logs."""
    values: dict[str, Any] = {"database_url": TEST_URL, "secret_key": "test-signing-key-for-the-suite-only-0123456789",
                              "log_json": False, "login_failures_allowed": 5}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    """Migrate the test database from empty to head once, then hand out the engine."""
    await _ensure_database(TEST_URL)
    probe = create_async_engine(TEST_URL, poolclass=NullPool)
    async with probe.connect() as conn:
        try:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            await conn.commit()
        except Exception as exc:
            raise RuntimeError(f"PostGIS is not available in {make_url(TEST_URL).database}: {exc}") from exc
        has_schema = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    await probe.dispose()
    # Every session proves the migrations both ways: (up to head,) down to empty, up to head again.
    if not has_schema:
        await asyncio.to_thread(migrate.upgrade, TEST_URL, "head")
    await asyncio.to_thread(migrate.downgrade, TEST_URL, "base")
    await asyncio.to_thread(migrate.upgrade, TEST_URL, "head")
    eng = create_engine(make_settings())
    yield eng
    await eng.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        trans = await connection.begin()
        try:
            yield connection
        finally:
            if trans.is_active:
                await trans.rollback()


@pytest.fixture
def db(conn: AsyncConnection) -> Database:
    """The app's Database, bound to the test's transaction."""
    return BoundDatabase(conn)


def pytest_configure(config: pytest.Config) -> None:
    """The `settings` marker: a module's or test's overrides of make_settings."""
    config.addinivalue_line("markers", "settings(**overrides): the test's Settings are make_settings(**overrides)")


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    """Test settings; `pytestmark = pytest.mark.settings(today=…)` gives a module its overrides."""
    marker = request.node.get_closest_marker("settings")
    return make_settings(**(marker.kwargs if marker else {}))


@pytest.fixture(scope="session")
def _shared_app() -> Any:
    """One app for the session (building the routes costs ~0.3 s); each test rebinds its database."""
    return create_app(make_settings(), Database(create_engine(make_settings())))


@pytest.fixture
async def app(_shared_app: Any, settings: Settings, db: Database) -> Any:
    """The app wired to the rolled-back test transaction, with a fresh authenticator and empty caches."""
    _shared_app.state.bind(settings, db)
    return _shared_app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def city(db: Database) -> builders.City:
    """Two districts, an advanced-manufacturing base, a community, users of every role."""
    return await builders.build_city(db)


# ------------------------------------------------------------------------------------------ live tests
@pytest.fixture
async def live_db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A real Database on the test database: commits are real; the data tables are emptied after."""
    database = Database(create_engine(make_settings(), pool_size=20))
    async with database.session() as session:
        await builders.truncate(session)
    yield database
    async with database.session() as session:
        await builders.truncate(session)
    await database.dispose()
