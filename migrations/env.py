"""Alembic environment: async engine on DATABASE_URL, our tables only (PostGIS's own are left alone)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.settings import Settings
from models import metadata

config = context.config


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Compare only what our metadata knows: PostGIS's tables (spatial_ref_sys, …) are not ours."""
    return not (type_ == "table" and reflected and compare_to is None)


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    """Reflect only our metadata's tables: the others (PostGIS's; `tile_change`, kept by triggers and raw SQL
    alone, migration 0012, whose xid8 column SQLAlchemy has no type for) are not compared anyway."""
    return type_ != "table" or name in metadata.tables


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=include_name,
        include_object=include_object,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run() -> None:
    url = config.attributes.get("database_url") or Settings().async_database_url
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def run() -> None:
    """Run against a connection handed in by the caller (tests, CLI) or a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run())


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run()
