"""Engine and transactions: one transaction per request or CLI command, owned here (STYLE habit 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.settings import Settings


def create_engine(settings: Settings, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> AsyncEngine:
    """The app's engine: asyncpg, a statement timeout (batch jobs pass a longer one), and the rule
    numbers the database guards read."""
    timeout = settings.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    server_settings = {
        "statement_timeout": str(timeout),
        "application_name": "landcycle",
        "landcycle.overlap_tolerance_m2": str(settings.overlap_tolerance_m2),
        "landcycle.idle_after_years": str(settings.idle_after_years),
        "landcycle.today": settings.today.isoformat() if settings.today else "",
        "jit": "off",
    }
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "connect_args": {"server_settings": server_settings, "command_timeout": 120},
    }
    options.update(kwargs)
    return create_async_engine(settings.async_database_url, **options)


class Database:
    """Hands out sessions and connections; tests swap in one bound to a rolled-back transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back when it raises."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction, for streaming large results with a server-side cursor."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    async def dispose(self) -> None:
        """Close the pool."""
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

    async def dispose(self) -> None:
        return None
