"""Department data feeds (SPEC §4 data_provider, §5 /measurements/batches): a batch is all or nothing,
each value keeps its source, year and batch, a department delivers and reads its own figures only."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from models import AppUser, Enterprise
from tests.builders import _hash, basic
from tests.contract_builders import uscc

API = "/api/v1/measurements/batches"
PROVIDERS = {"provider.tax": "tax", "provider.statistics": "statistics"}
pytestmark = pytest.mark.settings(today="2026-06-01")
GOOD = [uscc(901), uscc(902)]
BAD_USCC = GOOD[1][:17] + ("0" if GOOD[1][17] != "0" else "1")  # the check character wrong


@pytest.fixture
async def feeds(city, db) -> list[str]:
    """The test city, one data_provider per department named in PROVIDERS, two registered enterprises."""
    async with db.session() as session:
        for name, source in PROVIDERS.items():
            session.add(AppUser(username=name, password_hash=_hash(), role="data_provider", source=source))
        for n, code in enumerate(GOOD, start=1):
            session.add(Enterprise(name=f"企业 {n}", uscc=code, industry_code="C39"))
        await session.flush()
    return GOOD


def tax_batch(*rows: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"source": "tax", "year": 2025, "rows": list(rows), **options}


async def stored(db, sql: str, **params: Any) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(text(sql), params)).all())


async def audit_mark(db) -> int:
    """The audit log is append-only and live tests leave rows committed: read only those after this mark."""
    return (await stored(db, "SELECT coalesce(max(id), 0) FROM audit_log"))[0][0]


async def test_a_tax_batch_with_one_bad_uscc_is_refused_whole_then_accepted_with_skip_invalid(client, db, feeds):
    mark = await audit_mark(db)
    rows = [{"uscc": feeds[0], "figure": "tax_paid", "value": 1234.5678},
            {"uscc": BAD_USCC, "figure": "tax_paid", "value": "88"}]
    refused = await client.post(API, json=tax_batch(*rows), headers=basic("provider.tax"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "VALIDATION_ERROR" and problem["refused_total"] == 1
    assert problem["rows"] == 2 and problem["accepted"] == 1
    assert problem["refused"] == [{"row": 2, "subject": BAD_USCC, "figure": "tax_paid",
                                   "reason": problem["refused"][0]["reason"]}]
    assert "check character" in problem["refused"][0]["reason"]
    assert await stored(db, "SELECT * FROM measurement") == []
    assert await stored(db, "SELECT * FROM measurement_batch") == []
    audited = await stored(db, "SELECT action, entity, outcome, code, detail FROM audit_log "
                               "WHERE entity = 'measurement_batch' AND id > :mark", mark=mark)
    assert [(a, e, o, c) for a, e, o, c, _ in audited] == [("deliver", "measurement_batch", "refused",
                                                             "VALIDATION_ERROR")]
    assert audited[0][4]["refused"] == 1 and audited[0][4]["refused_rows"][0]["subject"] == BAD_USCC

    accepted = await client.post(API, json=tax_batch(*rows, skip_invalid=True), headers=basic("provider.tax"))
    assert accepted.status_code == 201, accepted.text
    batch = accepted.json()
    assert accepted.headers["location"] == f"{API}/{batch['id']}"
    assert (batch["source"], batch["year"], batch["rows"], batch["accepted"], batch["refused"]) == \
        ("tax", 2025, 2, 1, 1)
    assert batch["delivered_by"] == "provider.tax" and batch["report"][0]["row"] == 2
    values = await stored(db, "SELECT m.source, m.year, m.batch_id, e.uscc, m.figure, m.value FROM measurement m "
                              "JOIN enterprise e ON e.id = m.enterprise_id")
    assert values == [("tax", 2025, batch["id"], feeds[0], "tax_paid", Decimal("1234.5678"))]
    done = await stored(db, "SELECT detail FROM audit_log WHERE entity = 'measurement_batch' AND outcome = 'done' "
                            "AND id > :mark", mark=mark)
    assert len(done) == 1 and done[0][0]["accepted"] == 1 and done[0][0]["source"] == "tax"

    again = await client.get(f"{API}/{batch['id']}", headers=basic("provider.tax"))
    assert again.status_code == 200 and again.json()["report"] == batch["report"]
    listed = await client.get(f"{API}/{batch['id']}/values", headers=basic("viewer"))
    assert listed.json()["items"][0]["value"] == "1234.5678" and listed.json()["numberMatched"] == 1
    as_csv = await client.get(f"{API}/{batch['id']}/values?f=csv", headers=basic("bureau"))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f"tax,2025,{feeds[0]},,tax_paid,1234.5678" in as_csv.text


async def test_every_kind_of_bad_value_is_refused_with_its_reason(client, db, feeds):
    rows = [
        {"uscc": "91310115MA1FL8XQ3", "figure": "tax_paid", "value": 1},  # 17 characters
        {"uscc": uscc(999), "figure": "tax_paid", "value": 1},  # valid, not registered
        {"contract_code": "NO-SUCH", "figure": "tax_paid", "value": 1},
        {"uscc": feeds[0], "contract_code": "C-1", "figure": "tax_paid", "value": 1},
        {"figure": "tax_paid", "value": 1},
        {"uscc": feeds[0], "figure": "tax_payd", "value": 1},
        {"uscc": feeds[0], "figure": "jobs", "value": 1},  # statistics', delivered by the bureau as tax
        {"uscc": feeds[1], "figure": "tax_paid", "value": -1},
        {"uscc": feeds[1], "figure": "tax_paid", "value": "NaN"},
        {"uscc": feeds[1], "figure": "tax_paid", "value": "1e17"},
        {"uscc": feeds[1], "figure": "tax_paid", "value": "twelve"},
        {"uscc": feeds[0], "figure": "tax_paid", "value": 5},
        {"uscc": feeds[0].lower(), "figure": "实缴税收", "value": 6},  # the same subject and figure again
    ]
    r = await client.post(API, json=tax_batch(*rows), headers=basic("bureau"))
    assert r.status_code == 422, r.text
    reasons = {x["row"]: x["reason"] for x in r.json()["refused"]}
    assert r.json()["accepted"] == 0 and len(reasons) == len(rows)
    expected = {1: "18 characters", 2: "is registered", 3: "no contract 'NO-SUCH'", 4: "not both",
                5: "no subject", 6: "unknown figure", 7: "jobs is delivered by statistics, not tax",
                8: "never negative", 9: "not a finite number", 10: "too large", 11: "is not a number",
                12: "more than once", 13: "more than once"}
    for row, words in expected.items():
        assert words in reasons[row], (row, reasons[row])


async def test_a_refusal_carries_the_first_1000_refused_rows_and_their_count(client, db, feeds):
    rows = [{"uscc": uscc(5000 + i), "figure": "tax_paid", "value": i} for i in range(1200)]
    r = await client.post(API, json=tax_batch(*rows), headers=basic("bureau"))
    assert r.status_code == 422
    assert r.json()["refused_total"] == 1200 and len(r.json()["refused"]) == 1000
    assert r.json()["refused"][999]["row"] == 1000


async def test_a_figure_of_one_contract_is_stored_against_the_contract(client, db, feeds):
    from tests.contract_builders import operating_land

    land = await operating_land(client)
    code = land["contract"]["code"]
    r = await client.post(API, json={"source": "energy", "year": 2025, "rows": [
        {"contract_code": f" {code} ", "figure": "energy_use", "value": "310.25"}]}, headers=basic("bureau"))
    assert r.status_code == 201, r.text
    rows = await stored(db, "SELECT contract_id, enterprise_id, value FROM measurement")
    assert rows == [(land["contract"]["id"], None, Decimal("310.2500"))]
    values = (await client.get(f"{API}/{r.json()['id']}/values", headers=basic("viewer"))).json()["items"]
    assert (values[0]["contract_code"], values[0]["uscc"]) == (code, None)


async def test_a_department_delivers_its_own_figures_only(client, db, feeds):
    other = await client.post(API, json={"source": "statistics", "year": 2025,
                                         "rows": [{"uscc": feeds[0], "figure": "jobs", "value": 3}]},
                              headers=basic("provider.tax"))
    assert other.status_code == 403 and other.json()["code"] == "FORBIDDEN_ROLE"
    assert "tax department" in other.json()["detail"]
    foreign = await client.post(API, json=tax_batch({"uscc": feeds[0], "figure": "tax_paid", "value": 3},
                                                    {"uscc": feeds[0], "figure": "jobs", "value": 3},
                                                    skip_invalid=True),
                                headers=basic("provider.tax"))
    assert foreign.status_code == 403 and foreign.json()["code"] == "FORBIDDEN_ROLE"
    assert "jobs is delivered by statistics" in foreign.json()["detail"]
    for user in ("officer.east", "evaluator.east", "admin", "viewer"):
        r = await client.post(API, json=tax_batch({"uscc": feeds[0], "figure": "tax_paid", "value": 3}),
                              headers=basic(user))
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN_ROLE", user
    assert await stored(db, "SELECT * FROM measurement_batch") == []
    on_behalf = await client.post(API, json={"source": "statistics", "year": 2025, "rows": [
        {"uscc": feeds[0], "figure": "jobs", "value": 3}]}, headers=basic("bureau"))
    assert on_behalf.status_code == 201 and on_behalf.json()["delivered_by"] == "bureau"


async def test_reads_are_scoped_to_the_department(client, db, feeds):
    for user, source, figure in (("provider.tax", "tax", "tax_paid"), ("provider.statistics", "statistics", "jobs")):
        r = await client.post(API, json={"source": source, "year": 2025,
                                         "rows": [{"uscc": feeds[0], "figure": figure, "value": 7}]},
                              headers=basic(user))
        assert r.status_code == 201, r.text
    ids = {b["source"]: b["id"] for b in (await client.get(API, headers=basic("bureau"))).json()["items"]}
    assert set(ids) == {"tax", "statistics"}
    own = (await client.get(API, headers=basic("provider.tax"))).json()
    assert [b["source"] for b in own["items"]] == ["tax"] and own["numberMatched"] == 1
    assert (await client.get(f"{API}/{ids['statistics']}", headers=basic("provider.tax"))).status_code == 404
    assert (await client.get(f"{API}/{ids['statistics']}/values", headers=basic("provider.tax"))).status_code == 404
    assert (await client.get(f"{API}?source=statistics&year=2025", headers=basic("viewer"))).json()[
        "numberMatched"] == 1
    for user in ("officer.east", "evaluator.west"):
        r = await client.get(API, headers=basic(user))
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN_ROLE"


async def test_a_dry_run_stores_nothing(client, db, feeds):
    r = await client.post(API, json=tax_batch({"uscc": feeds[0], "figure": "tax_paid", "value": 1},
                                              {"uscc": BAD_USCC, "figure": "tax_paid", "value": 1}, dry_run=True),
                          headers=basic("provider.tax"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["id"] is None
    assert (body["rows"], body["accepted"], body["refused"]) == (2, 1, 1)
    assert await stored(db, "SELECT * FROM measurement_batch") == []


async def test_a_year_outside_1990_to_this_year_is_refused(client, feeds):
    for year in (1989, 2027):
        r = await client.post(API, json={"source": "tax", "year": year, "rows": [
            {"uscc": feeds[0], "figure": "tax_paid", "value": 1}]}, headers=basic("bureau"))
        assert r.status_code == 422 and r.json()["field"] == "year", r.text


async def upload(client, name: str, content: bytes, user: str = "provider.tax", **form: str) -> Any:
    data = {"source": "tax", "year": "2025", **form}
    return await client.post(API, files={"file": (name, content)}, data=data, headers=basic(user))


async def test_csv_wide_and_long_utf8_bom_and_gb18030(client, db, feeds):
    wide = f"uscc,企业名称,tax_paid\n{feeds[0]},甲公司,\"1,234.50\"\n{feeds[1]},乙公司,\n"
    r = await upload(client, "税务 2025.csv", wide.encode("gb18030"))
    assert r.status_code == 201, r.text
    assert (r.json()["rows"], r.json()["accepted"], r.json()["format"]) == (1, 1, "csv")
    assert r.json()["file_name"] == "税务 2025.csv"
    long = f"统一社会信用代码,指标,数值\n{feeds[1]},实缴税收,42\n"
    r = await upload(client, "long.csv", ("\ufeff" + long).encode())
    assert r.status_code == 201, r.text
    values = await stored(db, "SELECT e.uscc, m.value FROM measurement m JOIN enterprise e ON e.id = m.enterprise_id "
                              "ORDER BY m.id")
    assert values == [(feeds[0], Decimal("1234.5000")), (feeds[1], Decimal("42.0000"))]


async def test_an_xlsx_wide_sheet_with_a_refused_row_reports_its_file_row(client, db, feeds, tmp_path: Path):
    import pyogrio

    table = pd.DataFrame({"uscc": [feeds[0], "nonsense"], "tax_paid": ["10.25", "3"]})
    pyogrio.write_dataframe(table, tmp_path / "t.xlsx", layer="税收", driver="XLSX")
    r = await upload(client, "t.xlsx", (tmp_path / "t.xlsx").read_bytes(), skip_invalid="true")
    assert r.status_code == 201, r.text
    assert (r.json()["accepted"], r.json()["refused"], r.json()["format"]) == (1, 1, "xlsx")
    assert r.json()["report"][0]["row"] == 2 and r.json()["report"][0]["subject"] == "nonsense"


async def test_hostile_files_are_refused_cleanly(client, db, feeds):
    vrt = b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer>' \
          b'</OGRVRTDataSource>'
    r = await upload(client, "figures.csv", vrt)
    assert r.status_code == 422 and "XML or binary" in r.json()["detail"], r.text
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/media/image1.bin", b"\0" * (64 << 20))
    r = await upload(client, "bomb.xlsx", bomb.getvalue())
    assert r.status_code == 422 and "zip bomb" in r.json()["detail"], r.text
    r = await upload(client, "figures.txt", b"uscc,tax_paid\n")
    assert r.status_code == 422 and ".csv or .xlsx" in r.json()["detail"]
    r = await upload(client, "figures.csv", b"uscc,tax_payd\n1,2\n")
    assert r.status_code == 422 and "unknown columns tax_payd" in r.json()["detail"]
    r = await upload(client, "figures.csv", b"uscc,tax_paid\n" + bytes([0xff, 0xfe, 0x81]) + b",1\n")
    assert r.status_code == 422
    assert await stored(db, "SELECT * FROM measurement_batch") == []


async def test_a_provider_uploading_for_another_department_is_refused_before_its_file_is_opened(client, db, feeds):
    mark = await audit_mark(db)
    r = await upload(client, "x.csv", b"never opened", source="energy")
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN_ROLE"
    audited = await stored(db, "SELECT actor, outcome, code, detail FROM audit_log WHERE entity = 'measurement_batch' "
                               "AND id > :mark", mark=mark)
    assert [(a, o, c, d["source"], d["file"]) for a, o, c, d in audited] == [
        ("provider.tax", "refused", "FORBIDDEN_ROLE", "energy", "x.csv")]


async def test_malformed_json_bodies_are_problems_not_errors(client, feeds):
    for body in (b"[", b"[]", b'{"source": "tax", "year": 2025, "rows": 3}',
                 b'{"source": "tax", "year": 2025, "rows": [{"uscc": 1, "figure": "tax_paid", "value": 1}]}',
                 b'{"source": "tax", "year": 2025, "rows": [{"x": 1}]}',
                 b'{"source": "nope", "year": 2025, "rows": []}',
                 b'{"source": "tax", "year": 2025, "rows": []}'):
        r = await client.post(API, content=body, headers={**basic("bureau"), "content-type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR", (body, r.text)


@pytest.mark.settings(today="2026-06-01", max_body_bytes=2000)
async def test_a_json_batch_is_held_to_the_api_body_limit_and_a_file_is_not(client, db, feeds):
    rows = [{"uscc": feeds[0], "figure": "tax_paid", "value": 1}] * 100
    r = await client.post(API, json=tax_batch(*rows), headers=basic("provider.tax"))
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE" and ".csv or .xlsx" in r.json()["detail"]
    big = "uscc,tax_paid\n" + "".join(f"{feeds[i % 2]},{i}\n" for i in range(2)) + "\n" * 3000
    r = await upload(client, "big.csv", big.encode())
    assert r.status_code == 201, r.text


async def test_the_builder_stores_through_the_service(db, feeds):
    from tests.measurement_builders import deliver_figures

    async with db.session() as session:
        done = await deliver_figures(session, "energy", 2025, [{"uscc": feeds[0], "figure": "energy_use",
                                                               "value": "12.5"}])
    assert done.batch is not None and done.accepted == 1
    rows = await stored(db, "SELECT source, figure, value FROM measurement WHERE batch_id = :b", b=done.batch.id)
    assert rows == [("energy", "energy_use", Decimal("12.5000"))]



@pytest.mark.live
async def test_the_cli_refuses_a_batch_with_a_bad_uscc_then_stores_it_with_skip_invalid(live_db, tmp_path: Path):
    from tests.api.test_cli import landcycle
    from tests.builders import build_city

    await build_city(live_db)
    async with live_db.session() as session:
        session.add(AppUser(username="provider.tax", password_hash=_hash(), role="data_provider", source="tax"))
        session.add(Enterprise(name="企业", uscc=GOOD[0], industry_code="C39"))
        before = await session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log"))
    path = tmp_path / "tax-2025.csv"
    path.write_text(f"uscc,tax_paid\n{GOOD[0]},12.5\n{BAD_USCC},3\n", encoding="utf-8")
    args = ("measurements", "import", str(path), "--source", "tax", "--year", "2025", "--user", "provider.tax")
    refused = landcycle(*args)
    assert refused.returncode == 1, refused.stderr
    assert f"row 2 {BAD_USCC} tax_paid: USCC" in refused.stderr
    assert "refused 1; refused: nothing stored" in refused.stdout
    async with live_db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM measurement_batch")) == 0
    other = landcycle("measurements", "import", str(path), "--source", "energy", "--year", "2025",
                      "--user", "provider.tax")
    assert other.returncode == 1 and "FORBIDDEN_ROLE" in other.stderr
    stored_ = landcycle(*args, "--skip-invalid")
    assert stored_.returncode == 0, stored_.stderr
    assert "read 2, accepted 1, refused 1; stored batch" in stored_.stdout
    async with live_db.session() as session:
        rows = (await session.execute(text(
            "SELECT b.delivered_by, b.file_name, b.report->0->>'row', m.source, m.year, m.value "
            "FROM measurement m JOIN measurement_batch b ON b.id = m.batch_id"))).all()
        assert rows == [("provider.tax", "tax-2025.csv", "2", "tax", 2025, Decimal("12.5000"))]
        audited = await session.scalar(text(
            "SELECT count(*) FROM audit_log WHERE entity = 'measurement_batch' AND action = 'deliver' "
            "AND actor = 'provider.tax' AND id > :before"), {"before": before})
        assert audited == 3  # the two refused attempts (a bad USCC, another department) and the stored batch


async def test_a_batch_naming_more_enterprises_than_one_statement_binds_is_answered(client, feeds):
    """33,000 distinct USCCs (more than the 32,767 parameters of one statement): every one looked up, and the
    unregistered ones refused as rows — a report, not a server error."""
    rows = [{"uscc": uscc(900_000 + k), "figure": "tax_paid", "value": 1} for k in range(33_000)]
    r = await client.post(API, json=tax_batch(*rows, dry_run=True), headers=basic("provider.tax"))
    assert r.status_code == 200, r.text[:300]
    assert (r.json()["rows"], r.json()["refused"]) == (33_000, 33_000)
