"""The read router's choices (app/replicas.py), without a database: which node a read goes to, how far
behind a standby counts, read-your-writes by user."""

import time

import pytest

from app import replicas
from app.replicas import ReadRouter, lsn


@pytest.fixture(autouse=True)
def _request_context():
    """The tests set the request's context variables; put them back after."""
    saved = [(var, var.get()) for var in (replicas.reading_as, replicas.read_request, replicas.forced_primary)]
    yield
    for var, value in saved:
        var.set(value)


def _router() -> ReadRouter:
    router = ReadRouter(("postgresql://a@10.0.0.2:5432/x", "postgresql://a@10.0.0.3/x"), max_lag=5.0,
                        ryw_window=60.0, check_every=1.0)
    for replica in router.replicas:
        replica.healthy, replica.pool, replica.replay = True, object(), lsn("0/3000")  # type: ignore[assignment]
    return router


def _reading(as_user, read=True):
    return replicas.reading_as.set(as_user), replicas.read_request.set(read)


def test_a_wal_position_reads_as_a_number():
    assert lsn("0/0") == 0 and lsn(None) == 0
    assert lsn("1/0") == 1 << 32 and lsn("0/16B3740") == 0x16B3740
    assert lsn("2/1") > lsn("1/FFFFFFFF")


def test_reads_spread_over_healthy_standbys_and_writes_and_retries_stay_on_the_primary():
    router = _router()
    _reading(None)
    names = {router.choose().name for _ in range(4)}
    assert names == {"10.0.0.2:5432", "10.0.0.3:5432"}
    replicas.read_request.set(False)  # a write request, the CLI, a job
    assert router.choose() is None
    replicas.read_request.set(True)
    token = replicas.forced_primary.set(True)  # the retry of a read a standby failed
    assert router.choose() is None
    replicas.forced_primary.reset(token)
    for replica in router.replicas:
        replica.healthy = False
    assert router.choose() is None  # none left: the primary


def test_a_writer_reads_only_where_its_write_has_been_replayed():
    router = _router()
    router.wrote(7, lsn("0/5000"))
    _reading(7)
    assert router.choose() is None
    router.replicas[1].replay = lsn("0/5000")
    assert router.choose().name == "10.0.0.3:5432"
    _reading(8)  # another user is not held back by user 7's write
    assert router.choose() is not None
    router.writes[7] = (lsn("0/9000"), time.monotonic() - 61)  # older than the window: forgotten
    _reading(7)
    assert router.choose() is not None and 7 not in router.writes


def test_a_standby_is_as_far_behind_as_the_last_check_that_found_the_primary_where_it_is():
    router = _router()
    now = time.monotonic()
    router._history.extend([(now - 30, lsn("0/1000")), (now - 2, lsn("0/3000")), (now - 1, lsn("0/4000"))])
    assert router.lag(lsn("0/4000"), 600.0) == 0.0  # has all the primary had: no lag, however old its last xact
    assert 1.9 < router.lag(lsn("0/3800"), 600.0) < 3  # behind the last check, past the one before
    assert 29 < router.lag(lsn("0/2000"), 600.0) < 31
    assert router.lag(lsn("0/0800"), 45.0) == 45.0  # behind every check remembered: the older measure


def test_after_the_write_listener_was_cut_off_signed_in_users_read_on_the_primary_for_a_window():
    router = _router()
    router.blind_until = time.monotonic() + 60  # set when a listener reconnects: writes may have been missed
    _reading(7)
    assert router.choose() is None
    _reading(None)  # the anonymous public never wrote
    assert router.choose() is not None
    router.blind_until = time.monotonic() - 1
    _reading(7)
    assert router.choose() is not None
