"""Users and authentication: lookups, login with rate limiting, and short-lived caches of both."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import DISTRICT_ROLES, ROLES, Actor
from app.auth.security import HashPool, hash_password, issue_token, read_token, verify_password
from app.auth.throttle import LoginThrottle, ThrottlePolicy
from app.db import Database
from app.errors import NotFound, Unauthenticated, ValidationFailed
from app.settings import Settings
from models import AppUser, District, Organisation
from models.user import SOURCES

_CACHE_SECONDS = 30.0


def _actor(user: AppUser) -> Actor:
    return Actor(id=user.id, username=user.username, role=user.role, district_code=user.district_code,
                 organisation_id=user.organisation_id, source=user.source)


async def find_user(session: AsyncSession, username: str) -> AppUser | None:
    """An active user by name (case-insensitive)."""
    return await session.scalar(
        select(AppUser).where(func.lower(AppUser.username) == username.lower(), AppUser.active)
    )


async def add_user(session: AsyncSession, username: str, role: str, password: str,
                   district_code: str | None = None, full_name: str | None = None,
                   organisation_id: int | None = None, source: str | None = None) -> AppUser:
    """Create (or, for an existing name, reset) a user; district roles need an existing district, an
    org_manager an existing organisation, a data_provider its department."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed("username: 1–64 letters, digits, '.', '_' or '-'", field="username")
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters", field="password")
    if (role in DISTRICT_ROLES) != (district_code is not None):
        raise ValidationFailed(f"role {role} {'needs' if role in DISTRICT_ROLES else 'takes no'} --district",
                               field="district_code")
    if district_code is not None and await session.get(District, district_code) is None:
        raise NotFound(f"district {district_code} does not exist", district_code=district_code)
    if (role == "org_manager") != (organisation_id is not None):
        raise ValidationFailed(f"role {role} {'needs' if role == 'org_manager' else 'takes no'} --organisation",
                               field="organisation_id")
    if organisation_id is not None and await session.get(Organisation, organisation_id) is None:
        raise NotFound(f"organisation {organisation_id} does not exist", organisation_id=organisation_id)
    if (role == "data_provider") != (source is not None):
        raise ValidationFailed(f"role {role} {'needs' if role == 'data_provider' else 'takes no'} --source",
                               field="source")
    if source is not None and source not in SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(SOURCES)}", field="source")
    user = await session.scalar(select(AppUser).where(func.lower(AppUser.username) == username.lower()))
    if user is None:
        user = AppUser(username=username)
        session.add(user)
    user.role, user.district_code, user.full_name, user.active = role, district_code, full_name, True
    user.organisation_id, user.source = organisation_id, source
    # Argon2 takes tens of milliseconds of CPU: in a thread, not on the event loop.
    user.password_hash = await asyncio.to_thread(hash_password, password)
    await session.flush()
    return user


@dataclass
class _Cached:
    actor: Actor
    until: float


class Authenticator:
    """Turns credentials into an Actor. Argon2 is slow by design: it runs in a bounded pool of threads, a
    verified (user, password) pair and a token's user are remembered for 30 s, and failed logins are
    limited per name and address and per address (app/auth/throttle.py) before any hashing."""

    def __init__(self, settings: Settings, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._db = db
        self._basic: dict[tuple[str, bytes], _Cached] = {}
        self._users: dict[int, _Cached] = {}
        self._hasher = HashPool(settings.auth_hash_workers, settings.auth_hash_queue)
        self._pending: dict[tuple[str, bytes, str], asyncio.Future[Actor]] = {}
        self.throttle = LoginThrottle(ThrottlePolicy(per_name=settings.login_failures_allowed,
                                                     per_address=settings.login_failures_per_address), clock)

    async def login(self, username: str, password: str, client: str) -> tuple[str, int]:
        """Check a password and issue a bearer token: (token, expires_in seconds)."""
        actor = await self._check_password(username, password, client)
        ttl = self._settings.token_ttl_seconds
        return issue_token(self._settings.signing_key, actor.id, actor.username, ttl), ttl

    async def from_basic(self, username: str, password: str, client: str) -> Actor:
        """HTTP Basic (QGIS, curl): the same checks and limits as `login`."""
        key = (username.lower(), hashlib.sha256(password.encode()).digest())
        cached = self._basic.get(key)
        if cached and cached.until > time.monotonic():
            return cached.actor
        actor = await self._check_password(username, password, client)
        self._basic[key] = _Cached(actor, time.monotonic() + _CACHE_SECONDS)
        return actor

    async def from_token(self, token: str) -> Actor:
        """A bearer token issued by `login`."""
        claims = read_token(self._settings.signing_key, token)
        if claims is None:
            raise Unauthenticated("the token is invalid or has expired; get a new one at /api/v1/auth/token")
        cached = self._users.get(claims.user_id)
        if cached and cached.until > time.monotonic():
            return cached.actor
        async with self._db.session() as session:
            user = await session.get(AppUser, claims.user_id)
            if user is None or not user.active:
                raise Unauthenticated("the token's user no longer exists or is disabled")
            actor = _actor(user)
        self._users[claims.user_id] = _Cached(actor, time.monotonic() + _CACHE_SECONDS)
        return actor

    def forget(self) -> None:
        """Drop cached credentials (after user changes)."""
        self._basic.clear()
        self._users.clear()

    def close(self) -> None:
        """Stop the hashing threads (app shutdown)."""
        self._hasher.close()

    async def _check_password(self, username: str, password: str, client: str) -> Actor:
        """One check per (name, password, address) at a time: QGIS opens several connections with the same
        Basic credentials at once, and they share one verdict, one hash and one counted attempt (an
        identical guess tells an attacker nothing new) instead of tripping the limit together."""
        key = (username.lower(), hashlib.sha256(password.encode()).digest(), client)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(username, password, client))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def _settled(self, key: tuple[str, bytes, str], done: asyncio.Future[Actor]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a check whose callers all left is not logged as lost

    async def _verify(self, username: str, password: str, client: str) -> Actor:
        # Counted before the lookup and the hash: a blocked address costs neither.
        attempt = self.throttle.begin(username, client)
        try:
            # The connection goes back to the pool before the hash, which may wait for a thread.
            async with self._db.session() as session:
                user = await find_user(session, username)
                password_hash, actor = (user.password_hash, _actor(user)) if user else (None, None)
            job = self._hasher.submit(verify_password, password_hash, password)
        except Exception:
            # No verdict and no hashing (database error, hashing queue full): the attempt does not count.
            self.throttle.abandoned(attempt)
            raise
        # From here the attempt counts even if the client leaves: its hash runs all the same.
        ok = await job
        if actor is None or not ok:
            raise Unauthenticated("wrong user name or password")
        self.throttle.succeeded(attempt)
        return actor
