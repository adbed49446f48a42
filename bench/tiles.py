"""Vector tiles: how long a tile of the whole-city view and of a street view takes.

    [BENCH_DATABASE_URL=…] python -m bench.tiles [--runs 5]

Needs the 100,000-parcel demo (`landcycle demo load --parcels 100000`) in that database. Starts two
`landcycle serve` processes on it (public read, one worker): one with the tile cache off, so every
request builds its tile in PostGIS ("cold"), one with the default cache ("warm": the cached bytes, and
"304": a revalidation with the tile's ETag). Tiles: every parcels tile of the city's bounds (lon
120.85–122.2, lat 30.67–31.88) at z 8, 9, 10, and the densest parcels tile at z 12 and z 14; times are
to the last byte, gzip accepted as browsers do; medians of `--runs`, plus the very first request of each
cold server's first tile (its connection pool opening).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time

import asyncpg
import httpx

from bench.database import demo_url, say
from bench.peers import PORTS, ROOT, Server, _free_port, _start

CITY = (120.85, 30.67, 122.2, 31.88)
HALF_WORLD = 20037508.342789244


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def city_tiles(z: int) -> list[tuple[int, int, int]]:
    """Every tile of the city's bounds at zoom z."""
    x0, y0 = tile_of(CITY[0], CITY[3], z)
    x1, y1 = tile_of(CITY[2], CITY[1], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


async def densest(url: str, z: int) -> tuple[int, int, int]:
    """The tile at zoom z holding most current parcels (their points in Web Mercator)."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        size = 2 * HALF_WORLD / 2**z
        row = await conn.fetchrow("""
            SELECT floor((ST_X(tile_point) + $1) / $2)::int AS x, floor(($1 - ST_Y(tile_point)) / $2)::int AS y
              FROM parcel WHERE valid_to IS NULL GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1""", HALF_WORLD, size)
        return z, int(row["x"]), int(row["y"])
    finally:
        await conn.close()


def start(url: str, cache_mb: int) -> Server:
    """`landcycle serve` on the bench database with the given tile cache."""
    port = _free_port(PORTS["landcycle"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANDCYCLE_")}
    env.update(DATABASE_URL=url, LANDCYCLE_PUBLIC_READ="true", LANDCYCLE_LOG_LEVEL="warning",
               LANDCYCLE_TILE_CACHE_MB=str(cache_mb))
    cmd = [str(ROOT / ".venv" / "bin" / "landcycle"), "serve", "--port", str(port), "--workers", "1"]
    return _start(f"tiles-cache{cache_mb}", cmd, env, port, "/healthz", "")


def timed(http: httpx.Client, path: str, headers: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    """Seconds to the last byte of one GET."""
    began = time.perf_counter()
    response = http.get(path, headers=headers)
    response.read()
    return time.perf_counter() - began, response


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.0f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tiles")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    url = demo_url()
    tiles = [*city_tiles(8), *city_tiles(9), *city_tiles(10)]
    tiles += [asyncio.run(densest(url, 12)), asyncio.run(densest(url, 14))]
    say(f"{len(tiles)} tiles; {args.runs} runs each; load average {os.getloadavg()[0]:.1f}")
    cold_server, warm_server = start(url, 0), start(url, 64)
    rows = []
    try:
        with httpx.Client(base_url=cold_server.base, headers={"Accept-Encoding": "gzip"}, timeout=120) as cold, \
                httpx.Client(base_url=warm_server.base, headers={"Accept-Encoding": "gzip"}, timeout=120) as warm:
            first, _ = timed(cold, "/tiles/parcels/{}/{}/{}.mvt".format(*tiles[0]))
            say(f"first request of a fresh server (pool opening): {first * 1000:.0f} ms")
            for z, x, y in tiles:
                path = f"/tiles/parcels/{z}/{x}/{y}.mvt"
                built = [timed(cold, path)[0] for _ in range(args.runs)]
                _, response = timed(warm, path)
                if response.status_code == 204:
                    rows.append((z, x, y, 0, 0, 0, ms(built), "-", "-"))
                    continue
                raw = len(response.content)
                wire = int(response.headers.get("content-length") or raw)
                features = _count(response.content)
                cached = [timed(warm, path)[0] for _ in range(args.runs * 4)]
                tag = response.headers["etag"]
                revalidated = [timed(warm, path, {"If-None-Match": tag})[0] for _ in range(args.runs * 4)]
                rows.append((z, x, y, features, raw, wire, ms(built), ms(cached), ms(revalidated)))
    finally:
        cold_server.stop()
        warm_server.stop()
    print("\n| tile | parcels | MVT bytes | gzip bytes | cold (built) ms | warm (cached) ms | 304 ms |")
    print("|---|---|---|---|---|---|---|")
    for z, x, y, features, raw, wire, built_ms, cached_ms, revalidated_ms in rows:
        print(f"| {z}/{x}/{y} | {features:,} | {raw:,} | {wire:,} | {built_ms} | {cached_ms} | {revalidated_ms} |")
    return 0


def _count(data: bytes) -> int:
    import mapbox_vector_tile

    layer = mapbox_vector_tile.decode(data).get("parcels")
    return len(layer["features"]) if layer else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
