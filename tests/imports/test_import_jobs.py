"""POST /api/v1/imports: a background job with status, counts and the refused-rows report."""

from __future__ import annotations

from pathlib import Path

from app.imports.jobs import runner_of
from tests.builders import basic
from tests.imports.files import Row, city_rows, frame, square, write


async def post_file(client, path: Path, user: str = "bureau", **form):
    with path.open("rb") as fh:
        return await client.post(
            "/api/v1/imports", files={"file": (path.name, fh.read())}, data=form, headers=basic(user)
        )


async def finished(client, app, response, user: str = "bureau") -> dict:
    assert response.status_code == 202, response.text
    await runner_of(app.state).drain()
    got = await client.get(response.headers["location"], headers=basic(user))
    assert got.status_code == 200, got.text
    return got.json()


async def test_import_job_runs_and_commits(client, app, city, tmp_path: Path):
    path = write(frame(city_rows("H"), 4549), tmp_path / "parcels.gpkg")
    response = await post_file(client, path)
    assert response.json()["status"] == "queued"
    job = await finished(client, app, response)
    assert job["status"] == "succeeded" and job["committed"] is True
    assert job["counts"] == {"read": 5, "accepted": 5, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 2
    jobs = await client.get("/api/v1/imports", headers=basic("bureau"))
    assert jobs.json()["items"][0]["id"] == job["id"]


async def test_refused_job_reports_rows_and_writes_nothing(client, app, city, tmp_path: Path):
    rows = [
        Row("J-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("J-2", "industrial", square(121.4505, 31.1505), None),
    ]
    job = await finished(client, app, await post_file(client, write(frame(rows, 4490), tmp_path / "j.gpkg")))
    assert job["status"] == "refused" and job["committed"] is False
    assert job["counts"] == {"read": 2, "accepted": 1, "refused": 1}
    assert job["refused"][0]["row"] == 2 and job["refused"][0]["code"] == "PARCEL_OVERLAP"
    assert "row 1 (J-1)" in job["refused"][0]["reason"]
    report = await client.get(f"/api/v1/imports/{job['id']}/report", headers=basic("bureau"))
    assert report.headers["content-type"].startswith("text/csv")
    assert report.text.splitlines()[1].startswith("2,PARCEL_OVERLAP,")
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert listed.json()["numberMatched"] == 0


async def test_skip_invalid_and_dry_run_over_http(client, app, city, tmp_path: Path):
    rows = [
        Row("K-1", "industrial", square(121.45, 31.15), "fragment"),
        Row("K-2", "industrial", square(121.4505, 31.1505), None),
    ]
    path = write(frame(rows, 4490), tmp_path / "k.gpkg")
    dry = await finished(client, app, await post_file(client, path, dry_run="true", skip_invalid="true"))
    assert (dry["status"], dry["committed"], dry["dry_run"]) == ("refused", False, True)
    job = await finished(client, app, await post_file(client, path, skip_invalid="true"))
    assert (job["status"], job["committed"], job["counts"]["refused"]) == ("succeeded", True, 1)
    listed = await client.get("/api/v1/parcels", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["K-1"]


async def test_shapefile_parts_with_options(client, app, city, tmp_path: Path):
    gdf = frame(city_rows("SP")[:2], 4326, {"code": "DKBM"})
    shp = write(gdf, tmp_path / "sp.shp", encoding="GBK")
    parts = [("file", (p.name, p.read_bytes())) for p in sorted(tmp_path.glob("sp.*"))]  # noqa: ASYNC240
    response = await client.post(
        "/api/v1/imports",
        files=parts,
        data={"map": ["code=DKBM"], "kind": "parcels"},
        headers=basic("bureau"),
    )
    job = await finished(client, app, response)
    assert job["status"] == "succeeded", job
    assert shp.exists()


async def test_a_spreadsheet_sheet_over_http(client, app, city, tmp_path: Path):
    import pandas as pd
    import pyogrio

    rows = city_rows("XH")[:2]
    table = pd.DataFrame({"地块编码": [r.code for r in rows], "land_use": [r.land_use for r in rows],
                          "wkt": [r.geom.wkt for r in rows]})
    path = tmp_path / "台账.xlsx"
    pyogrio.write_dataframe(table, path, layer="地块", driver="XLSX")
    job = await finished(client, app, await post_file(client, path, layer="地块", map="code=地块编码"))
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"read": 2, "accepted": 2, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["XH-B1", "XH-B2"]


async def test_a_zipped_file_geodatabase_over_http(client, app, city, tmp_path: Path):
    import zipfile

    gdb = write(frame(city_rows("GH")[:2], 4549), tmp_path / "parcels.gdb", layer="地块", driver="OpenFileGDB")
    with zipfile.ZipFile(tmp_path / "parcels.gdb.zip", "w") as archive:
        for member in gdb.iterdir():
            archive.write(member, f"parcels.gdb/{member.name}")
    job = await finished(client, app, await post_file(client, tmp_path / "parcels.gdb.zip"))
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"read": 2, "accepted": 2, "refused": 0}
    listed = await client.get("/api/v1/parcels?tier=base", headers=basic("bureau"))
    assert [f["properties"]["code"] for f in listed.json()["features"]] == ["GH-B1", "GH-B2"]


async def test_bad_file_fails_the_job_with_a_problem(client, app, city, tmp_path: Path):
    (tmp_path / "broken.gpkg").write_bytes(b"not a geopackage")
    job = await finished(client, app, await post_file(client, tmp_path / "broken.gpkg"))
    assert job["status"] == "failed"
    assert job["error"]["code"] == "VALIDATION_ERROR"
    # GDAL's words, without the server's temporary folder or its advice to prefix a driver name
    assert job["error"]["detail"] == "cannot open broken.gpkg: not recognized as being in a supported file format"


async def test_bad_requests_are_problems_not_500s(client, city, tmp_path: Path):
    path = write(frame(city_rows("Q")[:1], 4490), tmp_path / "q.gpkg")
    viewer = await post_file(client, path, user="viewer")
    assert viewer.status_code == 403 and viewer.json()["code"] == "FORBIDDEN_ROLE"
    officer = await post_file(client, path, user="officer.east", kind="zones")
    assert officer.status_code == 403
    crs = await post_file(client, path, crs="EPSG:9999")
    assert crs.status_code == 400 and crs.json()["code"] == "CRS_UNSUPPORTED"
    (tmp_path / "notes.txt").write_text("hello")
    wrong = await post_file(client, tmp_path / "notes.txt")
    assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
    bad_map = await post_file(client, path, map="code")
    assert bad_map.status_code == 422
    missing = await client.post("/api/v1/imports", data={"kind": "parcels"}, headers=basic("bureau"))
    assert missing.status_code == 422
    unknown = await client.get("/api/v1/imports/999999", headers=basic("bureau"))
    assert unknown.status_code == 404
    anonymous = await client.get("/api/v1/imports")
    assert anonymous.status_code == 401


async def test_district_officer_imports_only_in_their_district(client, app, city, tmp_path: Path):
    rows = [
        Row("D-E", "industrial", square(121.56, 31.06), "base"),
        Row("D-W", "industrial", square(121.36, 31.06), "community"),
    ]
    job = await finished(
        client,
        app,
        await post_file(client, write(frame(rows, 4490), tmp_path / "d.gpkg"), user="officer.east"),
        user="officer.east",
    )
    assert [(r["row"], r["code"]) for r in job["refused"]] == [(2, "FORBIDDEN_DISTRICT")]
    others = await client.get(f"/api/v1/imports/{job['id']}", headers=basic("officer.west"))
    assert others.status_code == 404


async def test_a_job_whose_process_died_is_reported_failed(client, db, city):
    from models import ImportJob

    async with db.session() as session:
        job = ImportJob(kind="parcels", filename="lost.gpkg", options={}, dry_run=False, status="running",
                        committed=False, created_by="bureau")
        session.add(job)
        await session.flush()
        job_id = job.id
    got = (await client.get(f"/api/v1/imports/{job_id}", headers=basic("bureau"))).json()
    assert got["status"] == "failed" and got["error"]["code"] == "INTERRUPTED"
