"""Engine and transactions: one transaction per request or CLI command, owned here (STYLE habit 2)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.errors import ServiceUnavailable
from app.replicas import CHANNEL, PRIMARY, ReadRouter, Replica, ReplicaFailed, gone, lsn, note_node, reading_as
from app.settings import Settings

log = logging.getLogger("landcycle.db")
# The standby the current task's `reader()` holds (None: the primary): its `spare_reader()` reads there too.
_held: ContextVar[Replica | None] = ContextVar("landcycle_held_replica", default=None)

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


def create_engine(settings: Settings, *, statement_timeout_ms: int | None = None, url: str | None = None,
                  **kwargs: Any) -> AsyncEngine:
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
    return create_async_engine(url or settings.async_database_url, **options)


def _asyncpg_url(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _went_away(exc: BaseException) -> bool:
    """Whether an error (asyncpg's, or SQLAlchemy's wrapping one) means the node went away."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if gone(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


class ReadConnection(asyncpg.Connection):
    """A pooled read connection: released without asyncpg's reset query (`RESET ALL; CLOSE ALL; UNLISTEN *;
    …`), a round trip per request, since reads never change session state; an open transaction is still
    ended on release."""

    def get_reset_query(self) -> str:
        return ""


class Database:
    """Hands out sessions and connections; tests swap in one bound to a rolled-back transaction.

    `reader()` is the hot read path: a plain asyncpg connection from a pool of its own, outside any
    explicit transaction (one statement, one snapshot), for statements compiled once (app/prepared.py).

    With standbys (settings `DATABASE_REPLICA_URLS`, app/replicas.py) `reader()`, `spare_reader()` and
    `connection()` of a read request run on a healthy standby; sessions always on the primary."""

    router: ReadRouter | None = None

    def __init__(self, engine: AsyncEngine, settings: Settings | None = None) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._replica_engines: dict[str, AsyncEngine] = {}
        if settings is not None and settings.replica_urls:
            self.router = ReadRouter(settings.replica_urls, settings.replica_max_lag_seconds,
                                     settings.replica_ryw_seconds, settings.replica_check_seconds,
                                     self._pool_options())

    def start(self) -> None:
        """Begin checking the standbys (in the serving event loop; nothing without standbys)."""
        if self.router is not None:
            self.router.start(_asyncpg_url(self.engine))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back when it raises; 503
        (`pool_exhausted()`) when its first statement finds no connection within the pool timeout."""
        try:
            async with self._sessions() as session:
                async with session.begin():
                    yield session
                    # Read-your-writes (app/replicas.py): did this transaction write? (no xid: it only read)
                    # (the writer is known by now: the request's dependencies authenticated it)
                    wrote = self.router is not None and reading_as.get() is not None and (
                        await session.scalar(text("SELECT txid_current_if_assigned()"))) is not None
                if wrote:
                    await self._note_write()
        except PoolTimeout:  # a refusal the client can act on (retry), not a fault of the program
            raise pool_exhausted() from None

    async def _note_write(self) -> None:
        """After a commit that wrote: the primary's WAL position, remembered for the writer here and sent to
        every worker (NOTIFY, delivered on the primary); unknown, the writer reads on the primary a while."""
        assert self.router is not None
        who = reading_as.get()
        try:
            pool = self._pool or await self._open_pool()
            async with pool.acquire(timeout=5) as conn:  # a bounded wait in a full pool, too
                where = await conn.fetchval(
                    "SELECT s.l::text FROM (SELECT pg_current_wal_lsn() AS l) s, "
                    "pg_notify($1, $2 || ' ' || s.l::text)", CHANNEL, str(who), timeout=5)
            self.router.wrote(who, lsn(where))
        except Exception as exc:  # committed all the same: the writer's reads stay on the primary
            log.warning("could not note the WAL position of a write: %s", exc)
            self.router.wrote(who, 1 << 63)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction, for streaming large results with a server-side cursor."""
        replica = self.router.choose() if self.router is not None else None
        if replica is not None:
            engine = self._replica_engine(replica)
            started = False
            try:
                async with engine.connect() as conn, conn.begin():
                    started = True
                    note_node(replica.name)
                    replica.reads += 1
                    yield conn
                return
            except PoolTimeout:
                if started:
                    raise pool_exhausted() from None
            except Exception as exc:
                if not _went_away(exc):
                    raise
                self.router.failed(replica, exc)  # type: ignore[union-attr]
                if started:
                    raise ReplicaFailed(replica.name) from exc
        note_node(PRIMARY)
        try:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
        except PoolTimeout:
            raise pool_exhausted() from None

    def _replica_engine(self, replica: Replica) -> AsyncEngine:
        engine = self._replica_engines.get(replica.name)
        if engine is None:
            assert self._settings is not None
            url = "postgresql+asyncpg://" + replica.url.removeprefix("postgresql://")
            engine = create_engine(self._settings, url=url, pool_size=max(2, self._settings.db_pool_size // 2))
            self._replica_engines[replica.name] = engine
        return engine

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[asyncpg.Connection]:
        """An asyncpg connection for reads (autocommit; prepared statements cached per connection); 503
        (`pool_exhausted()`) when none comes free within the pool timeout. On a standby when the router picks
        one: a standby that cannot be reached is skipped for the primary, one that fails during the block
        raises ReplicaFailed (the request is answered again on the primary)."""
        wait = self._settings.db_pool_timeout_seconds if self._settings else None
        replica = self.router.choose() if self.router is not None else None
        if replica is not None and replica.pool is not None:
            pool = replica.pool
            try:
                conn = await pool.acquire(timeout=wait)
            except Exception as exc:  # busy or gone: this read goes to the primary
                if _went_away(exc) and not isinstance(exc, TimeoutError):
                    self.router.failed(replica, exc)  # type: ignore[union-attr]
            else:
                token = _held.set(replica)
                note_node(replica.name)
                replica.reads += 1
                try:
                    yield conn
                except Exception as exc:
                    # Gone, or its connection broken under a statement still running (a stream's read-ahead
                    # cut off: asyncpg then reports the state it was left in).
                    if not (_went_away(exc) or conn.is_closed() or isinstance(exc, asyncpg.InternalClientError)):
                        raise
                    self.router.failed(replica, exc)  # type: ignore[union-attr]
                    raise ReplicaFailed(replica.name) from exc
                finally:
                    _held.reset(token)
                    try:
                        await pool.release(conn)
                    except Exception:  # the pool was closed meanwhile (the standby went away)
                        conn.terminate()
                return
        primary = self._pool or await self._open_pool()
        try:
            conn = await primary.acquire(timeout=wait)
        except TimeoutError:
            raise pool_exhausted() from None
        note_node(PRIMARY)
        token = _held.set(None)
        try:
            yield conn
        finally:
            _held.reset(token)
            await primary.release(conn)

    @asynccontextmanager
    async def spare_reader(self) -> AsyncIterator[asyncpg.Connection | None]:
        """A second read connection if the pool has one idle or may open one, else None: a request that
        holds one connection must not queue for another in a full pool, or busy pools deadlock. On the node
        the task's `reader()` holds."""
        replica = _held.get()
        if replica is not None and replica.pool is not None:
            pool = replica.pool
        else:
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

    def _pool_options(self) -> dict[str, Any]:
        """The read pools' options (the primary's and each standby's)."""
        size = self._settings.db_pool_size if self._settings else 10
        options = server_settings(self._settings) if self._settings else {"jit": "off"}
        return {"min_size": 1, "max_size": size, "server_settings": options, "statement_cache_size": 256,
                "command_timeout": 120, "connection_class": ReadConnection}

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(_asyncpg_url(self.engine), **self._pool_options())
            return self._pool

    async def dispose(self) -> None:
        """Close the pools."""
        if self.router is not None:
            await self.router.close()
        for engine in self._replica_engines.values():
            await engine.dispose()
        self._replica_engines.clear()
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
