"""Reads on hot standbys (PostgreSQL streaming replication), writes on the primary (docs/DEPLOYMENT.md).

`ReadRouter` picks the node of each read: a healthy standby, else the primary. A standby is healthy while
its last check (every `replica_check_seconds`) found it in recovery and no further behind than
`replica_max_lag_seconds`; a standby that fails a check or a read is skipped until a later check finds it
back. A read that fails on a standby raises `ReplicaFailed`, and `ReplicaRetry` (ASGI) answers the request
again on the primary, so a standby stopped mid-run fails no request whose response had not started.

Read-your-writes: a transaction that wrote records the primary's WAL position after its commit under the
writer (the actor's id), in this worker and, by NOTIFY on the primary, in every worker listening there (a
standby cannot LISTEN). That writer's reads go to a standby only once its replay position has passed the
write; until then (at most `replica_ryw_seconds`) to the primary. The key is the user, not a cookie, so
QGIS with Basic auth and no cookies sees its edit on the next GetFeature. Collection versions (ETags,
cached counts and tiles) are read on the node that serves the rows, in the same snapshot, so a standby's
ETag names the standby's state — older, never newer than the rows it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg

log = logging.getLogger("landcycle.replicas")

CHANNEL = "landcycle_write"
PRIMARY = "primary"

# Who the current request reads as (the actor's id; None: anonymous or no request) and whether it only
# reads (a safe method or a WFS POST: its writes, a WFS Transaction's, run in sessions, on the primary).
# Set by app.deps.authenticate; tasks started by the request (an import job) inherit them. Anything else —
# a write request, the CLI, a job — reads on the primary. `forced_primary`: the retry of a failed read.
reading_as: ContextVar[Hashable | None] = ContextVar("landcycle_reading_as", default=None)
read_request: ContextVar[bool] = ContextVar("landcycle_read_request", default=False)
forced_primary: ContextVar[bool] = ContextVar("landcycle_forced_primary", default=False)
# The node that served the request's reads (the `Landcycle-Node` response header).
served_by: ContextVar[list[str] | None] = ContextVar("landcycle_served_by", default=None)


def reads_only(method: str, path: str) -> bool:
    """A request standbys may serve: a safe method (RFC 9110), or a WFS POST (its Transaction writes run in
    sessions, on the primary)."""
    return method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and path == "/wfs")


class ReplicaFailed(Exception):
    """A read on a standby failed (the standby went down or was cut off); the request is retried."""


# A standby that went away: connection refused or dropped, the server shutting down (57P01 admin shutdown,
# 57P03 cannot connect now), or recovery conflicts that cancel a standby's query (40001).
_GONE = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
         asyncpg.CannotConnectNowError, asyncpg.SerializationError, asyncio.TimeoutError)


def gone(exc: BaseException) -> bool:
    """Whether a read failed because its node went away (not because of the statement). A statement that
    ran out of time (57014, a subclass of OperatorInterventionError) says nothing of the node: the same
    query would run as long on the primary."""
    return isinstance(exc, _GONE) and not isinstance(exc, asyncpg.QueryCanceledError)


def lsn(text: str | None) -> int:
    """A WAL position `X/Y` as a number (0 for none)."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def node_name(url: str) -> str:
    """host:port of a URL (what /healthz and `Landcycle-Node` name a node by; no credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}"


@dataclass
class Replica:
    """One standby: its pool and what the last check found."""

    url: str
    name: str
    pool: asyncpg.Pool | None = None
    healthy: bool = False
    replay: int = 0  # WAL position replayed
    lag_seconds: float | None = None
    checked_at: float = 0.0
    error: str | None = None
    reads: int = 0

    def describe(self) -> dict[str, Any]:
        return {"node": self.name, "healthy": self.healthy, "lag_seconds": self.lag_seconds,
                "reads": self.reads, "error": self.error}


@dataclass
class ReadRouter:
    """The standbys, their health and the recent writes per user (per worker process)."""

    urls: tuple[str, ...]
    max_lag: float
    ryw_window: float
    check_every: float
    pool_options: dict[str, Any] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)
    # writer → (WAL position after its last write, monotonic time of the write)
    writes: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    primary_lsn: int = 0
    # (monotonic time, the primary's WAL position then) of the recent checks: how far behind a standby is
    _history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=600))
    _next: int = 0
    _task: asyncio.Task[None] | None = None
    _listener: asyncpg.Connection | None = None
    _listened: bool = False  # a listener was connected once (a new one after it may have missed writes)
    # Until then, every signed-in user reads on the primary: the listener was cut off and may have missed
    # other workers' writes.
    blind_until: float = 0.0

    def __post_init__(self) -> None:
        self.replicas = [Replica(url, node_name(url)) for url in self.urls]

    # The choice of node ------------------------------------------------------------------------------

    def choose(self) -> Replica | None:
        """The standby for the current read, or None for the primary."""
        if not self.replicas or not read_request.get() or forced_primary.get():
            return None
        who = reading_as.get()
        if who is not None and self.blind_until > time.monotonic():
            return None
        need = self._needs(who)
        candidates = [r for r in self.replicas if r.healthy and r.pool is not None and r.replay >= need]
        if not candidates:
            return None
        self._next = (self._next + 1) % len(candidates)
        return candidates[self._next]

    def _needs(self, who: Hashable | None) -> int:
        """The WAL position a standby must have replayed for `who` to read there (0: any)."""
        if who is None:
            return 0
        found = self.writes.get(who)
        if found is None:
            return 0
        if time.monotonic() - found[1] > self.ryw_window:
            self.writes.pop(who, None)
            return 0
        return found[0]

    def wrote(self, who: Hashable | None, position: int) -> None:
        """`who` committed a write that ends at WAL `position`."""
        if who is None:
            return
        known = self.writes.get(who)
        # The furthest position wins, and every write restarts the window (after an unknown position,
        # 1 << 63, a later write must still keep its author on the primary).
        self.writes[who] = (max(known[0], position) if known else position, time.monotonic())
        if len(self.writes) > 100_000:  # bounded: drop the expired
            cut = time.monotonic() - self.ryw_window
            self.writes = {k: v for k, v in self.writes.items() if v[1] >= cut}

    def failed(self, replica: Replica, exc: BaseException) -> None:
        """A read on `replica` failed because it went away: skip it until a check finds it back."""
        replica.healthy = False
        replica.error = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("standby %s failed a read (%s); reads go elsewhere until it is back", replica.name,
                    replica.error)

    # Health checks and the write listener (on the primary) ---------------------------------------------

    def start(self, primary_url: str) -> None:
        """Start checking the standbys and listening for writes (once, in the serving event loop)."""
        if self._task is None and self.replicas:
            self._task = asyncio.get_running_loop().create_task(self._run(primary_url))

    async def _run(self, primary_url: str) -> None:
        while True:
            try:
                await self.check(primary_url)
            except asyncio.CancelledError:
                raise
            except Exception:  # a check must never end the loop
                log.exception("standby check failed")
            await asyncio.sleep(self.check_every)

    async def check(self, primary_url: str) -> None:
        """One round: the primary's WAL position (and its listener), then each standby's replay and lag."""
        try:
            if self._listener is None or self._listener.is_closed():
                self._listener = await asyncpg.connect(primary_url, timeout=5)
                await self._listener.add_listener(CHANNEL, self._heard)
                if self._listened:  # writes notified while it was down are unknown here
                    self.blind_until = time.monotonic() + self.ryw_window
                self._listened = True
            self.primary_lsn = lsn(await self._listener.fetchval("SELECT pg_current_wal_lsn()::text", timeout=5))
            self._history.append((time.monotonic(), self.primary_lsn))
        except Exception as exc:  # the primary down: the standbys' lag is unknown, judged by time alone
            log.warning("primary check failed: %s", exc)
            if self._listener is not None:  # a slow or half-open connection: closed, not leaked
                self._listener.terminate()
            self._listener = None
        await asyncio.gather(*(self._check(r) for r in self.replicas))

    async def _check(self, replica: Replica) -> None:
        try:
            if replica.pool is None:
                # No floor of idle connections: a pool that keeps one would reconnect on its own (and log
                # it) while the standby is down; this check is what finds it back.
                replica.pool = await asyncpg.create_pool(replica.url, **{**self.pool_options, "min_size": 0})
            row = await replica.pool.fetchrow(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8", timeout=5)
        except Exception as exc:
            replica.healthy = False
            replica.error = f"{type(exc).__name__}: {exc}"[:200]
            replica.checked_at = time.monotonic()
            if replica.pool is not None:
                pool, replica.pool = replica.pool, None
                pool.terminate()
            return
        in_recovery, replayed, since = row
        replica.replay = lsn(replayed)
        replica.checked_at = time.monotonic()
        if not in_recovery:
            replica.healthy, replica.error, replica.lag_seconds = False, "not a standby (not in recovery)", None
            return
        replica.lag_seconds = round(self.lag(replica.replay, since), 3)
        replica.healthy = replica.lag_seconds <= self.max_lag
        replica.error = None if replica.healthy else f"lags {replica.lag_seconds} s (bound {self.max_lag} s)"

    def lag(self, replayed: int, since_last_replayed: float | None) -> float:
        """Seconds a standby that has replayed up to `replayed` may be behind: none when it has all the primary
        had at the last check; else the time since the last check that found the primary at or before that
        position (its data is at least that fresh — not the age of its last replayed transaction, which an
        idle primary's background WAL would make look like minutes); beyond the checks remembered, the
        larger of their span and that age."""
        if not self._history or replayed >= self._history[-1][1]:
            return 0.0
        now = time.monotonic()
        for at, position in reversed(self._history):
            if position <= replayed:
                return now - at
        return max(now - self._history[0][0], float(since_last_replayed or 0.0))

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        who, _, where = payload.partition(" ")
        with contextlib.suppress(ValueError):
            self.wrote(int(who), lsn(where))

    def describe(self) -> list[dict[str, Any]]:
        """The standbys for /healthz."""
        return [r.describe() for r in self.replicas]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        for replica in self.replicas:
            if replica.pool is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(replica.pool.close(), 5)
                replica.pool = None


def note_node(name: str) -> None:
    """Record the node a read of this request ran on."""
    nodes = served_by.get()
    if nodes is not None and name not in nodes:
        nodes.append(name)


@contextlib.contextmanager
def request_scope() -> Iterator[list[str]]:
    """The nodes a request's reads ran on, collected while it runs."""
    nodes: list[str] = []
    token = served_by.set(nodes)
    try:
        yield nodes
    finally:
        served_by.reset(token)


# A response is held back until it is complete or this large, so a read that fails on a standby after the
# route produced its first bytes can still be answered again; past it, the response streams as it comes.
HOLD_BYTES = 1024 * 1024


class ReplicaRetry:
    """ASGI middleware (with standbys only): answers a request again on the primary when a read on a standby
    failed before its response went out, and names the nodes that served its reads in `Landcycle-Node`
    (`primary`, or a standby's host:port) — what an operator checks to see the standbys at work. Responses
    are held back up to HOLD_BYTES (pages, features, tiles, WFS windows: all of it); a longer stream that
    fails on a standby after that ends early, like a dropped connection."""

    def __init__(self, app: Any, router: Any) -> None:
        self.app = app
        self.router = router  # () -> ReadRouter | None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.router() is None:
            await self.app(scope, receive, send)
            return
        if not reads_only(scope["method"], scope["path"]):
            # A write reads on the primary and is never answered twice: nothing of it is held (an import's
            # upload streams on to its spool file), only the node named.
            async def naming(message: Any) -> None:
                if message["type"] == "http.response.start":
                    headers = [*message.get("headers", []), (b"landcycle-node", PRIMARY.encode())]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, naming)
            return
        with request_scope() as nodes:
            received: list[Any] = []
            held: list[Any] = []
            size = 0
            sent = False

            async def recording() -> Any:
                message = await receive()
                received.append(message)
                return message

            async def flush() -> None:
                nonlocal sent
                sent = True
                start, *rest = held
                served = ",".join(nodes) or "none"
                await send({**start, "headers": [*start.get("headers", []), (b"landcycle-node", served.encode())]})
                for message in rest:
                    await send(message)
                held.clear()

            async def holding(message: Any) -> None:
                nonlocal size
                if sent:
                    await send(message)
                    return
                held.append(message)
                if message["type"] == "http.response.start":
                    return
                size += len(message.get("body", b""))
                if message["type"] != "http.response.body" or not message.get("more_body") or size > HOLD_BYTES:
                    await flush()

            try:
                await self.app(scope, recording, holding)
                return
            except ReplicaFailed:
                if sent:
                    raise
            log.info("a read on a standby failed; answering %s %s on the primary", scope["method"], scope["path"])
            replay = iter(list(received))

            async def replaying() -> Any:
                return next(replay, None) or await receive()

            nodes.clear()
            held.clear()
            size = 0
            token = forced_primary.set(True)
            try:
                await self.app(scope, replaying, holding)
            finally:
                forced_primary.reset(token)
