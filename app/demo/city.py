"""A synthetic, seeded Shanghai for demonstrations and benchmarks (SPEC §7). Pure: no database.

Districts are Voronoi cells of the district anchors clipped to an outline made from their boxes; the
five demonstration zones are advanced-manufacturing bases, a few more bases and communities sit in the
outer districts, the five transformation areas hold legacy-195 land, and fragments (some legacy 198)
are scattered in the outer districts. Parcels fill a grid whose cell size is chosen so the requested
number of parcels fits, keeping the city's industrial land near the 320–550 km² of the targets.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

DATA = Path(__file__).resolve().parents[2] / "data" / "shanghai_anchor_points.csv"
M_PER_DEG_LAT = 110_540.0
OUTER_DISTRICTS = ("310114", "310118", "310117", "310116", "310120", "310151", "310113", "310112", "310115")


@dataclass(frozen=True)
class Anchor:
    """One row of the anchor CSV."""

    kind: str
    code: str
    name_zh: str
    name_en: str
    center: tuple[float, float]
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class DemoZone:
    """A zone of the demo city."""

    code: str
    name: str
    kind: str
    advanced_manufacturing: bool
    geom: MultiPolygon
    far_cap: float | None = None
    far_min: float | None = None


@dataclass(frozen=True)
class Region:
    """An area parcels are laid out in, with the legacy-zone mix of its parcels."""

    code: str
    geom: BaseGeometry
    legacy: tuple[tuple[str | None, float], ...]
    rnd_share: float


@dataclass
class DemoParcels:
    """Parallel arrays of the generated parcels."""

    codes: list[str]
    land_uses: list[str]
    plot_ratios: list[float]
    legacy_zones: list[str | None]
    statuses: list[str]
    geoms: np.ndarray
    regions: list[str]


@dataclass(frozen=True)
class DemoCity:
    """Everything generated."""

    districts: list[tuple[Anchor, MultiPolygon]]
    zones: list[DemoZone]
    transformation_areas: list[tuple[Anchor, Polygon]]
    parcels: DemoParcels


def read_anchors(path: Path = DATA) -> list[Anchor]:
    """The anchor CSV."""
    with path.open(encoding="utf-8") as fh:
        return [
            Anchor(kind=r["kind"], code=r["code"], name_zh=r["name_zh"], name_en=r["name_en"],
                   center=(float(r["center_lon"]), float(r["center_lat"])),
                   bbox=(float(r["min_lon"]), float(r["min_lat"]), float(r["max_lon"]), float(r["max_lat"])))
            for r in csv.DictReader(fh)
        ]


def _blob(rng: np.random.Generator, bbox: tuple[float, float, float, float], vertices: int = 48,
          roughness: float = 0.12) -> Polygon:
    """An irregular, simple (star-shaped) polygon filling most of a box."""
    x0, y0, x1, y1 = bbox
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    angles = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    # Smooth noise: a few low harmonics keep the outline plausible rather than spiky.
    radius = np.ones(vertices)
    for k in range(2, 6):
        radius += roughness / k * np.sin(k * angles + rng.uniform(0, 2 * math.pi))
    radius = np.clip(radius, 0.6, 1.0)
    return Polygon(np.column_stack([cx + rx * radius * np.cos(angles), cy + ry * radius * np.sin(angles)]))


def _multi(geom: BaseGeometry) -> MultiPolygon:
    geom = shapely.make_valid(geom)
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    return MultiPolygon(polys)


def districts_of(anchors: list[Anchor]) -> tuple[BaseGeometry, list[tuple[Anchor, MultiPolygon]]]:
    """The outline (union of the district boxes, smoothed) and its Voronoi districts."""
    ds = [a for a in anchors if a.kind == "district"]
    outline = shapely.union_all([box(*a.bbox) for a in ds]).buffer(0.03, join_style="round").buffer(-0.03)
    outline = outline.intersection(box(120.85, 30.67, 122.12, 31.88))
    # Large districts get four more generators towards their box corners, so their cells reach as far
    # as the district does instead of ceding land to a small neighbour's centre.
    seeds: list[tuple[float, float]] = []
    owner: list[int] = []
    for i, a in enumerate(ds):
        seeds.append(a.center)
        owner.append(i)
        x0, y0, x1, y1 = a.bbox
        if (x1 - x0) * (y1 - y0) > 0.02:
            cx, cy = a.center
            for fx, fy in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)):
                seeds.append((cx + 0.45 * (fx - cx), cy + 0.45 * (fy - cy)))
                owner.append(i)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=outline.envelope.buffer(0.5))
    parts: list[list[BaseGeometry]] = [[] for _ in ds]
    for cell in cells.geoms:
        inside = [j for j, s in enumerate(seeds) if cell.contains(shapely.Point(s))]
        if inside:
            parts[owner[inside[0]]].append(cell)
    out = [(a, _multi(shapely.union_all(parts[i]).intersection(outline))) for i, a in enumerate(ds)]
    return outline, out


def zones_of(anchors: list[Anchor], outline: BaseGeometry, rng: np.random.Generator) -> list[DemoZone]:
    """Five demonstration bases (advanced manufacturing), two further bases, ten communities."""
    zones: list[DemoZone] = []
    for a in anchors:
        if a.kind == "demo_zone":
            zones.append(DemoZone(a.code, f"{a.name_zh} {a.name_en.split(' (')[0]}", "base", True,
                                  _multi(_blob(rng, a.bbox).intersection(outline))))
    extra_bases = [
        ("SJB", "松江 Songjiang Industrial Base", (121.18, 31.00, 121.26, 31.05)),
        ("QPB", "青浦 Qingpu Industrial Base", (121.06, 31.12, 121.13, 31.17)),
    ]
    for code, name, bb in extra_bases:
        zones.append(DemoZone(code, name, "base", False, _multi(_blob(rng, bb).intersection(outline)),
                              far_cap=None, far_min=1.0))
    taken = shapely.union_all([z.geom for z in zones]).buffer(0.01)
    community_sites = [
        ("C-JD1", "嘉定 Jiading North community", 121.26, 31.42),
        ("C-JD2", "嘉定 Malu community", 121.29, 31.33),
        ("C-BS1", "宝山 Luodian community", 121.36, 31.45),
        ("C-MH1", "闵行 Xinzhuang community", 121.33, 31.12),
        ("C-PD1", "浦东 Kangqiao community", 121.58, 31.10),
        ("C-PD2", "浦东 Jinqiao community", 121.63, 31.27),
        ("C-FX1", "奉贤 Nanqiao community", 121.46, 30.93),
        ("C-JS1", "金山 Fengjing community", 121.10, 30.84),
        ("C-SJ1", "松江 Sheshan community", 121.24, 31.09),
        ("C-CM1", "崇明 Chenjia community", 121.86, 31.55),
    ]
    for i, (code, name, lon, lat) in enumerate(community_sites):
        half = rng.uniform(0.012, 0.022)
        bb = (lon - half * 1.2, lat - half, lon + half * 1.2, lat + half)
        geom = _blob(rng, bb, 36).difference(taken).intersection(outline)
        # One community keeps a lower cap of its own (rule 3: "a zone may set a lower cap").
        cap = 1.6 if i == 3 else None
        zones.append(DemoZone(code, name, "community", False, _multi(geom), far_cap=cap))
    return zones


def regions_of(anchors: list[Anchor], zones: list[DemoZone], outline: BaseGeometry,
               districts: list[tuple[Anchor, MultiPolygon]], rng: np.random.Generator
               ) -> tuple[list[Region], list[tuple[Anchor, Polygon]]]:
    """Where parcels go: zones (legacy 104), transformation areas (195), fragments (195/198)."""
    regions = [Region(z.code, z.geom, (("104", 0.9), (None, 0.1)), 0.35 if z.code in ("ZJ", "CHJ") else 0.12)
               for z in zones]
    zones_union = shapely.union_all([z.geom for z in zones])
    transform = []
    for a in anchors:
        if a.kind == "transform_area":
            shape = _blob(rng, a.bbox, 32).intersection(outline)
            transform.append((a, shape))
            regions.append(Region(a.code, shape.difference(zones_union), (("195", 1.0),), 0.05))
    by_code = dict((a.code, g) for a, g in districts)
    k = 0
    for code in OUTER_DISTRICTS:
        district = by_code[code]
        x0, y0, x1, y1 = district.bounds
        for _ in range(5):
            for _attempt in range(20):
                lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
                half = rng.uniform(0.006, 0.014)
                site = _blob(rng, (lon - half * 1.2, lat - half, lon + half * 1.2, lat + half), 24)
                if district.contains(site) and not site.intersects(zones_union.buffer(0.01)):
                    k += 1
                    regions.append(Region(f"F{k:02d}", site, (("198", 0.5), ("195", 0.3), (None, 0.2)), 0.03))
                    zones_union = zones_union.union(site)
                    break
    return regions, transform


def _cells(regions: list[Region], cell_m: float, lat0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (lon, lat) of a global grid's cells inside the regions, and each one's region index."""
    dx = cell_m / (111_320.0 * math.cos(math.radians(lat0)))
    dy = cell_m / M_PER_DEG_LAT
    xs_all, ys_all, idx_all = [], [], []
    seen: set[tuple[int, int]] = set()
    for i, r in enumerate(regions):
        x0, y0, x1, y1 = r.geom.bounds
        ix = np.arange(math.floor(x0 / dx), math.ceil(x1 / dx) + 1)
        iy = np.arange(math.floor(y0 / dy), math.ceil(y1 / dy) + 1)
        gx, gy = np.meshgrid(ix, iy)
        cx, cy = (gx.ravel() + 0.5) * dx, (gy.ravel() + 0.5) * dy
        inside = shapely.contains_xy(r.geom, cx, cy)
        for a, b, x, y in zip(gx.ravel()[inside], gy.ravel()[inside], cx[inside], cy[inside], strict=True):
            key = (int(a), int(b))
            if key not in seen:
                seen.add(key)
                xs_all.append(x)
                ys_all.append(y)
                idx_all.append(i)
    return np.array(xs_all), np.array(ys_all), np.array(idx_all, dtype=np.int64)


def _parcel_shapes(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, cell_m: float,
                   lat0: float) -> np.ndarray:
    """One simple star-shaped polygon (6–24 vertices) inside each cell: never overlapping a neighbour."""
    n = len(xs)
    sx = 1 / (111_320.0 * math.cos(math.radians(lat0)))
    sy = 1 / M_PER_DEG_LAT
    fill = rng.uniform(0.62, 0.95, n)  # share of the half-cell the parcel reaches
    counts = rng.integers(6, 25, n)
    rings: list[np.ndarray] = []
    for i in range(n):
        k = int(counts[i])
        # Jittered but evenly spread angles: every gap < π keeps the star polygon simple.
        angles = (np.arange(k) + rng.uniform(0, 0.8, k)) * (2 * math.pi / k) + rng.uniform(0, 2 * math.pi)
        # Keep vertices roughly square-ish: radius to a square's edge, jittered a little.
        edge = 1 / np.maximum(np.abs(np.cos(angles)), np.abs(np.sin(angles)))
        radius = cell_m / 2 * fill[i] * np.minimum(edge, 1.3) * rng.uniform(0.82, 1.0, k)
        rings.append(np.column_stack([xs[i] + radius * np.cos(angles) * sx, ys[i] + radius * np.sin(angles) * sy]))
    index = np.repeat(np.arange(n), [len(r) for r in rings])
    return shapely.polygons(shapely.linearrings(np.concatenate(rings), indices=index))


def generate(parcels: int = 5000, seed: int = 2018) -> DemoCity:
    """The demo city with `parcels` industrial/R&D parcels plus ~3 % office/commercial references."""
    rng = np.random.default_rng(seed)
    anchors = read_anchors()
    outline, districts = districts_of(anchors)
    zones = zones_of(anchors, outline, rng)
    regions, transform = regions_of(anchors, zones, outline, districts, rng)
    references = max(12, parcels * 3 // 100)
    wanted = parcels + references
    lat0 = 31.1
    area_m2 = sum(r.geom.area for r in regions) * 111_320.0 * math.cos(math.radians(lat0)) * M_PER_DEG_LAT
    cell_m = math.sqrt(area_m2 / (wanted * 1.08))
    xs, ys, region_idx = _cells(regions, cell_m, lat0)
    while len(xs) < wanted:  # the grid came out short: shrink the cells a little
        cell_m *= 0.97
        xs, ys, region_idx = _cells(regions, cell_m, lat0)
    chosen = np.sort(rng.choice(len(xs), size=wanted, replace=False))
    xs, ys, region_idx = xs[chosen], ys[chosen], region_idx[chosen]
    geoms = _parcel_shapes(rng, xs, ys, cell_m, lat0)

    # District of each parcel by its centre, for readable codes.
    district_codes = np.full(wanted, "310000", dtype=object)
    for a, g in districts:
        district_codes[shapely.contains_xy(g, xs, ys)] = a.code

    is_reference = np.zeros(wanted, dtype=bool)
    is_reference[rng.choice(wanted, size=references, replace=False)] = True
    codes: list[str] = []
    uses: list[str] = []
    ratios: list[float] = []
    legacy: list[str | None] = []
    statuses: list[str] = []
    region_codes: list[str] = []
    status_names = ["planned", "supplied", "under_construction", "operating"]
    status_p = [0.08, 0.12, 0.10, 0.70]
    for i in range(wanted):
        region = regions[int(region_idx[i])]
        region_codes.append(region.code)
        codes.append(f"{district_codes[i]}-{region.code}-{i + 1:06d}")
        if is_reference[i]:
            uses.append("office" if rng.random() < 0.6 else "commercial")
            ratios.append(round(float(rng.uniform(2.5, 6.0)), 2))
            legacy.append(None)
            statuses.append("operating")
            continue
        rnd = rng.random() < region.rnd_share
        uses.append("rnd" if rnd else "industrial")
        top = 3.0 if rnd else 2.0
        if region.code == "C-MH1":
            top = 1.6
        ratios.append(round(float(rng.uniform(1.0 if not rnd else 1.2, top)) * 20) / 20)
        names, weights = zip(*region.legacy, strict=True)
        legacy.append(names[int(rng.choice(len(names), p=np.array(weights) / sum(weights)))])
        statuses.append(status_names[int(rng.choice(4, p=status_p))])
    _small_plots(np.random.default_rng(seed + 1), geoms, xs, ys, is_reference, lat0)
    parcels_out = DemoParcels(codes, uses, ratios, legacy, statuses, geoms, region_codes)
    return DemoCity(districts, zones, transform, parcels_out)


SMALL_PLOTS_M2 = (1_300.0, 1_900.0)  # 2–2.9 mu: under the 亩均 rating's 3 mu (rating_min_land_mu)


def _small_plots(rng: np.random.Generator, geoms: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                 is_reference: np.ndarray, lat0: float) -> None:
    """A few industrial/R&D parcels shrunk about their cell's centre to a small plot (the shape stays inside
    its cell, so no overlap), drawn from a stream of their own so the rest of the city is unchanged."""
    candidates = np.flatnonzero(~is_reference)
    count = min(len(candidates), max(6, len(candidates) // 500))
    m2_per_deg2 = 111_320.0 * math.cos(math.radians(lat0)) * M_PER_DEG_LAT
    for i, wanted in zip(rng.choice(candidates, size=count, replace=False).tolist(),
                         rng.uniform(*SMALL_PLOTS_M2, count).tolist(), strict=True):
        factor = math.sqrt(wanted / (geoms[i].area * m2_per_deg2))
        if factor < 1:
            coords = shapely.get_coordinates(geoms[i])
            centre = np.array([xs[i], ys[i]])
            geoms[i] = shapely.set_coordinates(geoms[i], centre + (coords - centre) * factor)
