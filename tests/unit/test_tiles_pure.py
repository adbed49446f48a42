"""Vector tiles without a database: the tile pyramid, the byte-bounded cache, gzip negotiation, and the tile
statements taking only z, x and y from a request."""

import pytest

from app.tiles.layers import LAYERS, POINT_ZOOM_BELOW
from app.tiles.routes import accepts_gzip
from app.tiles.service import TileCache
from gis.tiles import tile_exists


@pytest.mark.parametrize(("z", "x", "y", "exists"), [
    (0, 0, 0, True), (0, 1, 0, False), (10, 1023, 1023, True), (10, 1024, 0, False), (10, 0, -1, False),
    (22, 2**22 - 1, 0, True), (23, 0, 0, False), (-1, 0, 0, False),
])
def test_a_tile_exists_only_inside_the_pyramid(z, x, y, exists):
    assert tile_exists(z, x, y) is exists


def test_the_tile_cache_keeps_the_most_recent_tiles_within_its_byte_bound():
    cache = TileCache(max_bytes=1000)
    for i in range(4):
        cache.put(("parcels", 1, 14, i, 0), bytes(300), True)
    assert cache.size <= 1000 and len(cache) == 3
    assert cache.get(("parcels", 1, 14, 0, 0)) is None  # the oldest went first
    assert cache.get(("parcels", 1, 14, 3, 0)) == (bytes(300), True)
    cache.put(("parcels", 1, 8, 0, 0), bytes(1001), True)  # larger than the whole bound: not kept
    assert cache.get(("parcels", 1, 8, 0, 0)) is None and len(cache) == 3


def test_a_cache_of_zero_bytes_keeps_nothing():
    cache = TileCache(max_bytes=0)
    cache.put(("zones", 1, 10, 0, 0), b"\x1a\x02", False)
    assert len(cache) == 0 and cache.size == 0


@pytest.mark.parametrize(("header", "gzip"), [
    ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True), ("identity", False),
    ("gzip;q=0", False), (None, False), ("", False),
])
def test_gzip_is_sent_only_to_clients_that_take_it(header, gzip):
    assert accepts_gzip(header) is gzip


def test_tile_statements_take_only_z_x_y_from_a_request():
    for layer in LAYERS.values():
        for z in (POINT_ZOOM_BELOW - 1, POINT_ZOOM_BELOW):
            compiled = layer.statement(z)
            asked = {name for name, rendered in compiled.names if compiled.constants.get(rendered) is None}
            assert asked == {"z", "x", "y"}, layer.name
            assert len(compiled.args({"z": z, "x": 0, "y": 0})) == len(compiled.names)
