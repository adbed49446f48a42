"""Failures from outside the program — the database, the file system, GDAL — said in one line for the
operator of the `landcycle` command, instead of a traceback. Loaded only once a command has failed."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import asyncpg
from pyogrio.errors import DataLayerError, DataSourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from gis.errors import first_line

if TYPE_CHECKING:
    from app.settings import Settings


def outside_failure(exc: BaseException, settings: Settings) -> str | None:
    """A command's failure from outside the program — the database unreachable, refusing the role or the
    database, a file system refusing a path — said in one line for the operator; None for anything else."""
    if isinstance(exc, IntegrityError):  # a concurrent writer won: an overlap, the same code
        from app.responses import as_domain_error  # (loads FastAPI: only when it is needed)

        error = as_domain_error(exc)
        return f"{error.code}: {error.detail}"
    if isinstance(exc, DBAPIError | asyncpg.PostgresError | asyncpg.InterfaceError | ConnectionError
                  | socket.gaierror | TimeoutError):
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = first_line(cause) or type(cause).__name__
        if "permission denied to create extension" in reason:
            reason += "; a superuser must run CREATE EXTENSION postgis in that database first"
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        return f"database {url}: {reason}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, DataSourceError | DataLayerError):  # GDAL could not write (or read) a file
        return first_line(exc)
    return None

