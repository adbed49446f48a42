"""Password hashing (argon2) and signed bearer tokens (HMAC-SHA256 over a small JSON payload)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
