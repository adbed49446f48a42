"""Password hashing (argon2) beside the event loop, and signed bearer tokens (HMAC-SHA256 over a small
JSON payload)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import ServiceUnavailable

T = TypeVar("T")

_hasher = PasswordHasher()
# A hash of nothing, verified when the user does not exist so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("landcycle: no such user")


def hash_password(password: str) -> str:
    """An argon2id hash (SPEC §4: passwords are stored hashed)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class HashPool:
    """Argon2 work in `workers` threads (argon2-cffi releases the GIL, so they hash in parallel while the
    event loop goes on serving); at most `queue` jobs wait for a thread, and one more is refused at once
    with 503 and Retry-After instead of piling up behind the others."""

    def __init__(self, workers: int, queue: int, retry_after: int = 1) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="landcycle-argon2")
        self._limit = workers + queue
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting for a thread."""
        return self._in_flight

    async def hash(self, password: str) -> str:
        """`hash_password` in the pool."""
        return await self.submit(hash_password, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """`verify_password` in the pool."""
        return await self.submit(verify_password, password_hash, password)

    def submit(self, work: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Start `work(*args)` in a pool thread and return its future (await it on the event loop);
        ServiceUnavailable at once when the queue is full."""
        with self._lock:
            if self._in_flight >= self._limit:
                raise ServiceUnavailable("too many logins at once; retry shortly", retry_after=self._retry_after)
            self._in_flight += 1
        try:
            future = self._executor.submit(work, *args)
        except RuntimeError:  # shut down: the app is stopping
            self._release()
            raise ServiceUnavailable("the service is stopping; retry shortly",
                                     retry_after=self._retry_after) from None
        # Released when the job ends or is cancelled, not when its waiter gives up: a client that leaves
        # does not free a slot its hash still holds.
        future.add_done_callback(self._release)
        return asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the threads; jobs still waiting are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self, _future: Future[Any] | None = None) -> None:
        with self._lock:
            self._in_flight -= 1


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a bearer token says."""

    user_id: int
    username: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(key: bytes, user_id: int, username: str, ttl_seconds: int, now: float | None = None) -> str:
    """A token valid for `ttl_seconds`."""
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = _b64(json.dumps({"sub": user_id, "u": username, "exp": expires}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_token(key: bytes, token: str, now: float | None = None) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    try:
        payload, signature = token.split(".")
        expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        data = json.loads(_unb64(payload))
        claims = TokenClaims(user_id=int(data["sub"]), username=str(data["u"]), expires_at=int(data["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    if claims.expires_at <= (now if now is not None else time.time()):
        return None
    return claims
