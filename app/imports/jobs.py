"""Import jobs over HTTP: the upload is kept in a private folder, a row in `import_job` records the job,
and a background task of the server process runs the import (`run_import`) so a large file never
blocks the server: reading and geometry checks run in worker threads, SQL is awaited.

The job's final state commits in the same transaction as its data; while it runs, the import's
transaction holds the job's advisory lock, so a job whose row says `running` but whose lock nobody
holds has died with its process (and PostgreSQL rolled its data back): it is then reported `failed`.

A job is cancelled (`cancel`) by writing `cancelled` into its row; the row is the truth. The import
moves its row only from `queued` to `running` and from `running` to its end, so a cancelled job is
never started, and its data never commits: the final state is written in the data's transaction only
while the row still says `running`. Stopping the work at once is a courtesy on top: the task is
cancelled when it runs in this process, else the connection holding the job's lock is ended.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import locks
from app.audit import service as audit
from app.auth.permissions import Actor
from app.db import Database
from app.errors import DomainError, InvalidTransition, TooManyRequests
from app.imports.service import ImportOptions, ImportOutcome, run_import
from app.responses import as_domain_error
from app.settings import Settings
from models import ImportJob

log = logging.getLogger("landcycle.imports")
REPORT_ROWS = 100_000  # refused rows kept with a job (its JSON shows the first 1,000)
OPEN = ("queued", "running")  # the states a job ends from (and may be cancelled in)
PROGRESS_EVERY = 1.0  # seconds between progress writes within one phase
STALE_QUEUED = 60.0  # seconds a job may wait for its task before it counts as lost


class JobRunner:
    """The background tasks of this server process: started after the request commits, awaited by
    tests (`drain`), cancelled at shutdown (their transactions roll back)."""

    def __init__(self) -> None:
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def submit(self, job_id: int, work: Coroutine[Any, Any, None]) -> None:
        """Start a job's task."""
        task = asyncio.create_task(work, name=f"import-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def start(self, job_id: int, work: Coroutine[Any, Any, None]) -> None:
        """`submit` as a coroutine (a response's background task runs it on the event loop)."""
        self.submit(job_id, work)

    def cancel(self, job_id: int) -> bool:
        """Cancel the job's task if it runs in this process; whether it did."""
        task = self._tasks.get(job_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def drain(self) -> None:
        """Wait until every running job has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def shutdown(self) -> None:
        """Cancel the running jobs (nothing of theirs is committed) and wait for them."""
        for task in self._tasks.values():
            task.cancel()
        await self.drain()


def runner_of(state: Any) -> JobRunner:
    """The app's runner (`app.state.import_jobs`, app/state.py)."""
    runner: JobRunner = state.import_jobs
    return runner


RETRY_AFTER = 60  # seconds a client refused for too many open jobs is told to wait


async def open_jobs(session: AsyncSession) -> list[ImportJob]:
    """The jobs queued or running now, a lost one (its process died) recorded failed and left out."""
    ids = list(await session.scalars(select(ImportJob.id).where(ImportJob.status.in_(OPEN))))
    alive = [await load_job(session, job_id) for job_id in ids]
    return [job for job in alive if job is not None and job.status in OPEN]


async def admit(session: AsyncSession, actor: Actor, settings: Settings, *, exact: bool = True) -> None:
    """Refuse a new job (429 TOO_MANY_REQUESTS, Retry-After) while the user has `import_jobs_per_user`
    or everyone together `import_jobs_total` jobs queued or running. `exact` serialises admissions (a
    lock held to the request's commit, which records the job) so two requests at once cannot both pass."""
    if exact:
        await locks.entity(session, "import_admission", 0)
    running = await open_jobs(session)
    mine = sum(1 for job in running if job.created_by == actor.username)
    if mine >= settings.import_jobs_per_user:
        raise TooManyRequests(
            f"you have {mine} import jobs queued or running; at most {settings.import_jobs_per_user} at once — "
            "retry when one has ended", limit=settings.import_jobs_per_user, open=mine, retry_after=RETRY_AFTER)
    if len(running) >= settings.import_jobs_total:
        raise TooManyRequests(
            f"{len(running)} import jobs are queued or running; the service runs at most "
            f"{settings.import_jobs_total} at once — retry shortly",
            limit=settings.import_jobs_total, open=len(running), retry_after=RETRY_AFTER)


async def create_job(session: AsyncSession, actor: Actor, options: ImportOptions, filename: str) -> ImportJob:
    """Record a queued job (committed with the request, before its task starts)."""
    job = ImportJob(
        kind=options.kind,
        filename=filename,
        dry_run=options.dry_run,
        status="queued",
        committed=False,
        created_by=actor.username,
        options={
            "layer": options.layer,
            "land_use": options.land_use,
            "crs": options.crs,
            "map": options.mapping,
            "encoding": options.encoding,
            "dry_run": options.dry_run,
            "skip_invalid": options.skip_invalid,
        },
    )
    session.add(job)
    await session.flush()
    return job


async def execute(
    db: Database,
    settings: Settings,
    actor: Actor,
    job_id: int,
    path: Path,
    workdir: Path,
    options: ImportOptions,
) -> None:
    """Run one job to its end and record how it ended; the upload is removed afterwards."""
    progress = _ProgressWriter(db, job_id)

    async def on_begin(session: AsyncSession) -> None:
        await locks.entity(session, "import_job", job_id)
        if not await _set(db, job_id, ("queued",), status="running", started_at=func.now(), phase="reading"):
            raise JobCancelled(job_id)  # cancelled before it started

    async def before_commit(session: AsyncSession, outcome: ImportOutcome) -> None:
        if not await _move(session, job_id, ("running",), **_final(outcome)):
            raise JobCancelled(job_id)  # cancelled meanwhile: the data rolls back with this transaction

    try:
        outcome = await run_import(
            db,
            settings,
            actor,
            path,
            options,
            filename=path.name,
            progress=progress,
            on_begin=on_begin,
            before_commit=before_commit,
        )
        if not outcome.committed:
            await _set(db, job_id, OPEN, **_final(outcome))
    except JobCancelled:
        pass  # the row says so already
    except asyncio.CancelledError:  # the server stopping, or a cancel in this process (then a no-op)
        await _failed(
            db,
            job_id,
            {"code": "INTERRUPTED", "detail": "the server stopped during the import; nothing was written"},
        )
        raise
    except Exception as exc:  # any failure ends the job as failed with a problem the client can read
        error = as_domain_error(exc)
        if await _failed(db, job_id, error.problem()) and not isinstance(exc, DomainError):
            log.error("import job %s failed", job_id, exc_info=exc)  # (not a cancel ending its connection)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class JobCancelled(Exception):
    """The job's row says `cancelled`: its import stops and writes nothing."""


async def cancel(session: AsyncSession, runner: JobRunner, job: ImportJob, actor: Actor) -> ImportJob:
    """Cancel a queued or running job (INVALID_TRANSITION when it has ended). The row is marked in the
    caller's transaction; the import then stops where it is — its task cancelled when it runs here, else
    its connection ended — and, wherever it runs, cannot commit."""
    was = job.status
    if not await _move(session, job.id, OPEN, status="cancelled", phase="done", finished_at=func.now(),
                       error={"code": "CANCELLED", "detail": f"cancelled by {actor.username}; nothing was written"}):
        await session.refresh(job)  # it may have ended since it was read
        raise InvalidTransition(f"import job {job.id} has ended ({job.status}); only a queued or running job "
                                "can be cancelled", status=job.status)
    await audit.record(session, actor, "cancel", "import_job", job.id,
                       detail={"file": job.filename, "kind": job.kind, "was": was})
    # Run by another process of the service: end its connection. Without the right to, it stops at its commit.
    if not runner.cancel(job.id) and not await locks.end_holders(session, "import_job", job.id):
        log.warning("could not end the connection of cancelled import job %s", job.id)
    await session.refresh(job)
    return job


async def load_job(session: AsyncSession, job_id: int) -> ImportJob | None:
    """A job, with a lost one (its process died) reported and recorded as failed."""
    job = await session.scalar(select(ImportJob).where(ImportJob.id == job_id))
    if job is None or job.status not in OPEN:
        return job
    if await locks.held(session, "import_job", job_id):
        return job
    waited = await session.scalar(
        select(func.extract("epoch", func.now() - ImportJob.created_at)).where(ImportJob.id == job_id)
    )
    if job.status == "running" or float(waited or 0) > STALE_QUEUED:
        job.status, job.finished_at = "failed", func.now()
        job.error = {
            "code": "INTERRUPTED",
            "detail": "the import stopped with its server process; nothing was written",
        }
        await session.flush()
        await session.refresh(job)
    return job


def _final(outcome: ImportOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "phase": "done",
        "progress": 1.0,
        "read_count": outcome.read,
        "accepted_count": outcome.accepted,
        "refused_count": len(outcome.refused),
        "committed": outcome.committed,
        "seconds": round(outcome.seconds, 3),
        "notes": outcome.notes,
        "refused": [r.as_dict() for r in outcome.refused[:REPORT_ROWS]],
        "finished_at": func.now(),
    }


async def _move(session: AsyncSession, job_id: int, states: tuple[str, ...], **values: Any) -> bool:
    """Write the job's row if it is in one of `states` (never over a cancel or an end); whether it was."""
    done = await session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status.in_(states))
                                 .values(**values).returning(ImportJob.id))
    return done.first() is not None


async def _set(db: Database, job_id: int, states: tuple[str, ...] = OPEN, **values: Any) -> bool:
    """`_move` in a transaction of its own."""
    async with db.session() as session:
        return await _move(session, job_id, states, **values)


async def _failed(db: Database, job_id: int, problem: dict[str, Any]) -> bool:
    """Record a failure, unless the job was cancelled meanwhile. False only when it was cancelled (a database
    that is gone counts as a failure the next reader records: GET /imports/{id} finds the lock free)."""
    try:
        return await asyncio.shield(
            _set(db, job_id, status="failed", phase="done", error=problem, finished_at=func.now())
        )
    except Exception:  # the database itself is gone
        log.warning("could not record the failure of import job %s", job_id)
        return True


class _ProgressWriter:
    """bulk progress → the job row, in transactions of its own, at most once a second per phase."""

    def __init__(self, db: Database, job_id: int) -> None:
        self.db, self.job_id = db, job_id
        self._phase: str | None = None
        self._last = 0.0

    async def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self._phase and now - self._last < PROGRESS_EVERY:
            return
        self._phase, self._last = phase, now
        await _set(self.db, self.job_id, phase=phase, progress=round(done / total, 3) if total else None)
