"""Failed-login limits (SPEC §4, passwords): per user name and client address, and per address whatever
the names, in a sliding window, so guessing with made-up names is limited as much as guessing one name.

Pure: plain data and an injected clock. An attempt is counted when it begins, before the user is looked up
or any argon2 work, so parallel attempts cannot all pass the check before the first is recorded, and a
blocked address costs nothing; a success (or an attempt that never got an answer) is taken back.

The table is bounded: entries whose window has passed are dropped as others are recorded, and beyond
`max_keys` keys the least recently touched are evicted.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.errors import TooManyRequests

K = TypeVar("K", bound=Hashable)

WINDOW_SECONDS = 15 * 60.0
# Keys tracked per table (user name and address, address): ~1 kB each at most, so a few MB in all.
MAX_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failed logins a window allows, per (user name, address) and per address."""

    per_name: int
    per_address: int
    window_seconds: float = WINDOW_SECONDS
    max_keys: int = MAX_KEYS


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt in progress, counted as a failure until `succeeded` or `abandoned` says otherwise."""

    name_key: tuple[str, str]
    address_key: str
    at: float


def address_key(host: str) -> str:
    """The address a limit counts by: an IPv4 address itself, an IPv6 address by its /64 (one subscriber
    holds a whole /64, so its addresses are one client); anything else as given."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class _Counts(Generic[K]):
    """Timestamps per key within a sliding window; keys kept in order of their last record."""

    def __init__(self, window: float, max_keys: int) -> None:
        self._window = window
        self._max_keys = max_keys
        self._times: dict[K, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._times)

    def live(self, key: K, now: float) -> deque[float] | None:
        """The key's timestamps still in the window (None when there are none)."""
        times = self._times.get(key)
        if times is None:
            return None
        self._expire(times, now)
        if not times:
            del self._times[key]
            return None
        return times

    def record(self, key: K, now: float) -> None:
        """Add a timestamp; drop keys whose window has passed, and the oldest beyond the bound."""
        times = self._times.pop(key, None) or deque()
        self._expire(times, now)
        times.append(now)
        self._times[key] = times  # re-inserted: the dict stays ordered by last record
        # Keys are ordered by their newest timestamp, so the expired ones are at the front.
        while self._times:
            oldest = next(iter(self._times))
            if len(self._times) > self._max_keys or self._times[oldest][-1] <= now - self._window:
                del self._times[oldest]
            else:
                break

    def discard(self, key: K, at: float) -> None:
        """Take one timestamp back."""
        times = self._times.get(key)
        if times is None:
            return
        try:
            times.remove(at)
        except ValueError:
            return
        if not times:
            del self._times[key]

    def clear(self, key: K) -> None:
        """Forget the key."""
        self._times.pop(key, None)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self._window:
            times.popleft()


class LoginThrottle:
    """Counts failed logins per (user name, address) and per address; refuses beyond the policy's limits."""

    def __init__(self, policy: ThrottlePolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._by_name: _Counts[tuple[str, str]] = _Counts(policy.window_seconds, policy.max_keys)
        self._by_address: _Counts[str] = _Counts(policy.window_seconds, policy.max_keys)

    def __len__(self) -> int:
        """Keys tracked in all (the bound the table keeps)."""
        return len(self._by_name) + len(self._by_address)

    def begin(self, username: str, host: str) -> Attempt:
        """Count an attempt as a failure up front, or raise TooManyRequests (429, retry_after) when the
        address, or this name from this address, has used up its window."""
        now = self._clock()
        address = address_key(host)
        name_key = (username.lower(), address)
        window = self.policy.window_seconds
        by_address = self._by_address.live(address, now)
        if by_address is not None and len(by_address) >= self.policy.per_address:
            retry = _retry_after(by_address[0] + window - now)
            raise TooManyRequests(f"too many failed logins from this address; retry in {retry} s",
                                  retry_after=retry)
        by_name = self._by_name.live(name_key, now)
        if by_name is not None and len(by_name) >= self.policy.per_name:
            retry = _retry_after(by_name[0] + window - now)
            raise TooManyRequests(f"too many failed logins for {username}; retry in {retry} s", retry_after=retry)
        self._by_address.record(address, now)
        self._by_name.record(name_key, now)
        return Attempt(name_key, address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the name's failures from this address are forgotten, and this attempt
        no longer counts against the address."""
        self._by_name.clear(attempt.name_key)
        self._by_address.discard(attempt.address_key, attempt.at)

    def abandoned(self, attempt: Attempt) -> None:
        """The attempt got no verdict (busy hasher, database error): it does not count."""
        self._by_name.discard(attempt.name_key, attempt.at)
        self._by_address.discard(attempt.address_key, attempt.at)


def _retry_after(seconds: float) -> int:
    return max(1, int(seconds) + 1)
