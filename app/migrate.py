"""Alembic, driven from Python: upgrade/downgrade/check for the CLI and the tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    """The project's alembic.ini, optionally aimed at another database (asyncpg URL)."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


@cache
def head_revision() -> str | None:
    """The newest migration."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """alembic upgrade."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    """alembic downgrade."""
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str | None = None) -> None:
    """alembic check: raises when models and migrations disagree."""
    command.check(alembic_config(database_url))
