"""Engine and transactions: one transaction per request or CLI command, owned here (STYLE habit 2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.errors import ServiceUnavailable
from app.settings import Settings

# Seconds a client is told to wait (Retry-After) when no pooled connection came free in time.
POOL_RETRY_AFTER = 5


def pool_exhausted() -> ServiceUnavailable:
    """The answer when every pooled connection stayed busy for the pool timeout: 503, retry shortly."""
    return ServiceUnavailable("the server is busy: no database connection came free in time; retry shortly",
                              retry_after=POOL_RETRY_AFTER)


def _timeout_ms(settings: Settings, statement_timeout_ms: int | None) -> int:
    return settings.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms


def _idle_ms(settings: Settings, statement_timeout_ms: int | None) -> int:
    """How long a session may sit idle inside a transaction before the server ends it (a stalled stream, a
    crashed client). A batch job's transaction waits between statements on its own work (reading a file in
    a thread) and may do so as long as one of its statements may run."""
    return max(settings.db_idle_in_transaction_timeout_ms, statement_timeout_ms or 0)


def server_settings(settings: Settings, statement_timeout_ms: int | None = None) -> dict[str, str]:
    """Session settings of every connection: a statement timeout (batch jobs pass a longer one), an
    idle-in-transaction timeout, and the rule numbers the database guards read."""
    return {
        "statement_timeout": str(_timeout_ms(settings, statement_timeout_ms)),
        "idle_in_transaction_session_timeout": str(_idle_ms(settings, statement_timeout_ms)),
        "application_name": "landcycle",
        "landcycle.overlap_tolerance_m2": str(settings.policy.overlap_tolerance_m2),
        "landcycle.idle_after_years": str(settings.policy.idle_after_years),
        "landcycle.rating_exit_after_d_years": str(settings.policy.rating_exit_after_d_years),
        "landcycle.today": settings.today.isoformat() if settings.today else "",
        "jit": "off",
    }


def create_engine(settings: Settings, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> AsyncEngine:
    """The app's engine: asyncpg with `server_settings`; a request waits at most `db_pool_timeout_seconds`
    for a pooled connection (then sqlalchemy.exc.TimeoutError, answered as `pool_exhausted()`)."""
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        # asyncpg's own client-side limit must outlast the statement timeout, or a batch job's long
        # statement (a 1,000,000-parcel demo load) dies at 120 s whatever the statement timeout says.
        "connect_args": {"server_settings": server_settings(settings, statement_timeout_ms),
                         "command_timeout": max(120.0, _timeout_ms(settings, statement_timeout_ms) / 1000 + 30)},
    }
    options.update(kwargs)
    return create_async_engine(settings.async_database_url, **options)


class ReadConnection(asyncpg.Connection):
    """A pooled read connection: released without asyncpg's reset query (`RESET ALL; CLOSE ALL; UNLISTEN *;
    …`), a round trip per request, since reads never change session state; an open transaction is still
    ended on release."""

    def get_reset_query(self) -> str:
        return ""


class Database:
    """Hands out sessions and connections; tests swap in one bound to a rolled-back transaction.

    `reader()` is the hot read path: a plain asyncpg connection from a pool of its own, outside any
    explicit transaction (one statement, one snapshot), for statements compiled once (app/prepared.py)."""

    def __init__(self, engine: AsyncEngine, settings: Settings | None = None) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back when it raises; 503
        (`pool_exhausted()`) when its first statement finds no connection within the pool timeout."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except PoolTimeout:  # a refusal the client can act on (retry), not a fault of the program
            raise pool_exhausted() from None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction, for streaming large results with a server-side cursor."""
        try:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
        except PoolTimeout:
            raise pool_exhausted() from None

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[asyncpg.Connection]:
        """An asyncpg connection for reads (autocommit; prepared statements cached per connection); 503
        (`pool_exhausted()`) when none comes free within the pool timeout."""
        pool = self._pool or await self._open_pool()
        wait = self._settings.db_pool_timeout_seconds if self._settings else None
        try:
            conn = await pool.acquire(timeout=wait)
        except TimeoutError:
            raise pool_exhausted() from None
        try:
            yield conn
        finally:
            await pool.release(conn)

    @asynccontextmanager
    async def spare_reader(self) -> AsyncIterator[asyncpg.Connection | None]:
        """A second read connection if the pool has one idle or may open one, else None: a request that
        holds one connection must not queue for another in a full pool, or busy pools deadlock."""
        pool = self._pool or await self._open_pool()
        if pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size():
            yield None
            return
        try:
            conn = await pool.acquire(timeout=2)
        except TimeoutError:  # taken meanwhile: go on with one connection
            yield None
            return
        try:
            yield conn
        finally:
            await pool.release(conn)

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                size = self._settings.db_pool_size if self._settings else 10
                options = server_settings(self._settings) if self._settings else {"jit": "off"}
                self._pool = await asyncpg.create_pool(url, min_size=1, max_size=size, server_settings=options,
                                                       statement_cache_size=256, command_timeout=120,
                                                       connection_class=ReadConnection)
            return self._pool

    async def dispose(self) -> None:
        """Close the pools."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.engine.dispose()


class BoundDatabase(Database):
    """A Database whose sessions all nest inside one outer connection (tests: rolled back at the end)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.engine = connection.engine
        self._conn = connection
        self._sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._conn.begin_nested():
            yield self._conn

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[asyncpg.Connection]:
        """The outer connection's asyncpg connection: reads see the test's own uncommitted rows."""
        raw = await self._conn.get_raw_connection()
        yield raw.driver_connection

    @asynccontextmanager
    async def spare_reader(self) -> AsyncIterator[asyncpg.Connection | None]:
        """No second connection: tests read through the one outer connection."""
        yield None

    async def dispose(self) -> None:
        return None
