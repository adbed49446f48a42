"""Streams read ahead (app.features.geojson.prefetched): same items in order, errors passed on, and the
source closed (its transaction ended) when the client goes away early."""

import pytest

from app.features.geojson import prefetched


async def _source(n, log, fail_at=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise RuntimeError("database went away")
            yield i
    finally:
        log.append("closed")


async def test_every_item_arrives_in_order():
    log = []
    assert [i async for i in prefetched(_source(10, log))] == list(range(10))
    assert log == ["closed"]


async def test_an_error_in_the_source_reaches_the_consumer():
    log = []
    with pytest.raises(RuntimeError, match="went away"):
        async for _ in prefetched(_source(10, log, fail_at=4)):
            pass
    assert log == ["closed"]


async def test_a_consumer_that_stops_early_closes_the_source():
    log = []
    stream = prefetched(_source(1000, log))
    async for i in stream:
        if i == 2:
            break
    await stream.aclose()
    assert log == ["closed"]
