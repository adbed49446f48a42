"""The demo's delivered figures and 亩均 ratings (SPEC §7 demo data): each department's batches of the last
three complete years (the tax department's last year delivered twice, the corrected batch winning), a few
figures per contract code, three rated years with every class, small plots (under 3 mu) not rated, and
enterprises rated D three years running as `repeated_class_d` exit candidates; the same seed and today give
the same figures and ratings."""

from datetime import date

import pytest
from sqlalchemy import text

from app.demo.load import load_demo
from app.measurements.figures import SOURCES

TODAY = date(2026, 6, 1)
YEARS = [2023, 2024, 2025]
pytestmark = pytest.mark.settings(today=TODAY)

FINGERPRINT = text("""
SELECT (SELECT md5(string_agg(concat_ws('|', id, source, year, rows, accepted, file_name, delivered_by), ','
                              ORDER BY id)) FROM measurement_batch) AS batches,
       (SELECT md5(string_agg(concat_ws('|', batch_id, enterprise_id, contract_id, figure, value), ','
                              ORDER BY id)) FROM measurement) AS figures,
       (SELECT md5(string_agg(concat_ws('|', year, enterprise_id, land_m2, score, rank, class, unrated_reason), ','
                              ORDER BY year, enterprise_id)) FROM rating) AS ratings
""")


async def _load(db, settings):
    await load_demo(db, settings, parcels=600, seed=7, progress=lambda _: None)
    async with db.session() as session:
        return (await session.execute(FINGERPRINT)).one()


async def test_the_demo_delivers_figures_and_rates_three_years(client, db, settings):
    first = await _load(db, settings)
    assert first == await _load(db, settings)

    # Each department sees its own batches: one a year, the tax department's last year twice.
    for source in SOURCES:
        page = (await client.get("/api/v1/measurements/batches?limit=100",
                                 auth=(f"provider.{source}", "landcycle"))).json()
        batches = page["items"]
        assert {b["source"] for b in batches} == {source}
        assert all(b["delivered_by"] == f"provider.{source}" and b["refused"] == 0 for b in batches)
        years = sorted(b["year"] for b in batches)
        assert years == ([*YEARS, YEARS[-1]] if source == "tax" else YEARS)
    tax = (await client.get("/api/v1/measurements/batches?year=2025", auth=("provider.tax", "landcycle"))).json()
    corrected, slipped = tax["items"]  # newest first
    assert corrected["file_name"] == "tax-2025-corrected.json" and slipped["file_name"] == "tax-2025.json"

    # The rated years, every class in each; the corrected batch's values are the ones rated.
    runs = (await client.get("/api/v1/ratings/runs", auth=("viewer", "landcycle"))).json()["items"]
    assert [r["year"] for r in runs] == YEARS[::-1]
    for run in runs:
        assert run["rated"] > 100 and all(n > 0 for n in run["classes"].values()), run
        assert run["unrated"] > 0  # the small plots: under 3 mu
    small = (await client.get("/api/v1/ratings?year=2025&limit=1000", auth=("viewer", "landcycle"))).json()["items"]
    assert {r["unrated_reason"] for r in small if r["class"] is None} == {"land_below_threshold"}
    assert all(r["land_mu"] < 3 for r in small if r["class"] is None)
    async with db.session() as session:
        wrong = await session.scalar(text("""
            SELECT count(*) FROM rating r
              JOIN measurement m ON m.enterprise_id = r.enterprise_id AND m.year = r.year AND m.figure = 'tax_paid'
               AND m.batch_id = :corrected
             WHERE r.year = 2025 AND (r.figures->>'tax_paid')::numeric <> round(m.value, 4)"""),
            {"corrected": corrected["id"]})
        slips = await session.scalar(text("""
            SELECT count(*) FROM measurement a JOIN measurement b ON b.enterprise_id = a.enterprise_id
               AND b.figure = a.figure AND b.batch_id = :corrected
             WHERE a.batch_id = :slipped AND a.value <> b.value"""),
            {"corrected": corrected["id"], "slipped": slipped["id"]})
        by_contract = await session.scalar(text("SELECT count(*) FROM measurement WHERE contract_id IS NOT NULL"))
    assert wrong == 0 and slips > 0 and by_contract > 0

    d = (await client.get("/api/v1/ratings?year=2025&class=D", auth=("viewer", "landcycle"))).json()
    assert d["numberMatched"] > 0 and all(r["rectification"] for r in d["items"])
    # D three years running: the enterprise's contracts in force are exit candidates.
    page = (await client.get("/api/v1/exit-candidates?reason=repeated_class_d&limit=100",
                             auth=("bureau", "landcycle"))).json()
    assert page["numberMatched"] > 0
    candidate = page["items"][0]
    assert candidate["since"] == "2025-12-31" and len(candidate["evidence"]) == 3
    history = (await client.get(f"/api/v1/ratings?enterprise_id={candidate['enterprise_id']}",
                                auth=("viewer", "landcycle"))).json()["items"]
    assert [(r["year"], r["class"]) for r in history] == [(y, "D") for y in YEARS[::-1]]
