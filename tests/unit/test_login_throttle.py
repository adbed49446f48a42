"""Failed-login limits (SPEC §4): per user name and address, per address whatever the names, a sliding
15-minute window, and a table that stays bounded; an injected clock instead of sleeping."""

from __future__ import annotations

import pytest

from app.auth.throttle import LoginThrottle, ThrottlePolicy, address_key
from app.errors import TooManyRequests


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(per_name: int = 3, per_address: int = 5, max_keys: int = 10_000) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    return LoginThrottle(ThrottlePolicy(per_name=per_name, per_address=per_address, max_keys=max_keys), clock), clock


def fail(t: LoginThrottle, name: str, host: str) -> None:
    t.begin(name, host)  # counted as a failure unless taken back


def test_a_name_is_refused_after_its_failures_from_one_address():
    t, _ = throttle(per_name=3)
    for _ in range(3):
        fail(t, "bureau", "10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        t.begin("Bureau", "10.0.0.1")  # names count case-insensitively
    assert "bureau" in refused.value.detail.lower()
    assert refused.value.numbers["retry_after"] == 15 * 60 + 1


def test_the_same_name_from_another_address_is_not_refused():
    t, _ = throttle(per_name=3)
    for _ in range(3):
        fail(t, "bureau", "10.0.0.1")
    attempt = t.begin("bureau", "10.0.0.2")
    t.succeeded(attempt)


def test_made_up_names_do_not_dodge_the_limit_per_address():
    t, clock = throttle(per_name=3, per_address=5)
    for i in range(5):
        fail(t, f"made-up-{i}", "10.0.0.1")
        clock.now += 10
    with pytest.raises(TooManyRequests) as refused:
        t.begin("bureau", "10.0.0.1")
    assert "address" in refused.value.detail
    # The oldest failure, 50 s ago, leaves the window in 15 min - 50 s.
    assert refused.value.numbers["retry_after"] == 15 * 60 - 50 + 1
    t.succeeded(t.begin("bureau", "10.0.0.2"))


def test_the_right_password_works_again_once_the_window_has_passed():
    t, clock = throttle(per_name=3, per_address=5)
    for i in range(5):
        fail(t, f"made-up-{i}", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        t.begin("bureau", "10.0.0.1")
    clock.now += 15 * 60 - 1
    with pytest.raises(TooManyRequests):
        t.begin("bureau", "10.0.0.1")
    clock.now += 1
    t.succeeded(t.begin("bureau", "10.0.0.1"))


def test_the_window_slides_failure_by_failure():
    t, clock = throttle(per_name=2, per_address=100)
    fail(t, "viewer", "10.0.0.1")
    clock.now += 600
    fail(t, "viewer", "10.0.0.1")
    clock.now += 300  # the first failure leaves the window; the second is 5 min old
    fail(t, "viewer", "10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        t.begin("viewer", "10.0.0.1")
    assert refused.value.numbers["retry_after"] == 600 + 1


def test_a_success_clears_the_names_failures_and_does_not_count_against_the_address():
    t, _ = throttle(per_name=3, per_address=4)
    fail(t, "viewer", "10.0.0.1")
    fail(t, "viewer", "10.0.0.1")
    t.succeeded(t.begin("viewer", "10.0.0.1"))
    for _ in range(2):  # the name starts afresh: 3 more would be allowed, the address has 2 left
        fail(t, "viewer", "10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        t.begin("viewer", "10.0.0.1")
    assert "address" in refused.value.detail


def test_attempts_are_counted_when_they_begin_so_parallel_ones_cannot_all_pass():
    t, _ = throttle(per_name=100, per_address=3)
    started = [t.begin(f"n{i}", "10.0.0.1") for i in range(3)]  # none has its verdict yet
    with pytest.raises(TooManyRequests):
        t.begin("n3", "10.0.0.1")
    t.abandoned(started[0])  # e.g. the hashing queue was full: it does not count
    t.begin("n3", "10.0.0.1")


def test_an_ipv6_client_counts_by_its_64_block():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("unknown") == "unknown"
    t, _ = throttle(per_name=100, per_address=3)
    for i in range(3):
        fail(t, f"n{i}", f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(TooManyRequests):
        t.begin("bureau", "2001:db8:1:2::ffff")


def test_expired_entries_are_dropped_as_new_ones_are_recorded():
    t, clock = throttle(per_name=3, per_address=50)
    for i in range(1000):
        fail(t, f"random-{i}", f"10.0.{i // 200}.{i % 200}")
    assert len(t) == 2000
    clock.now += 15 * 60
    fail(t, "bureau", "10.9.9.9")
    assert len(t) == 2  # only the new failure's two keys remain


def test_many_random_names_and_addresses_within_the_window_keep_the_table_bounded():
    t, clock = throttle(per_name=3, per_address=50, max_keys=500)
    for i in range(20_000):
        fail(t, f"random-{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        clock.now += 0.01  # all 20,000 within one window
    assert len(t) <= 2 * 500
    # The newest are the ones kept: the last address is still counted, the first forgotten.
    assert t._by_address.live("10.0.78.31", clock.now) is not None  # i = 19,999
    assert t._by_address.live("10.0.0.0", clock.now) is None
