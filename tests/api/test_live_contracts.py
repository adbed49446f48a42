"""Tests that commit for real: the cron command reads committed data; the migration goes down and up."""

import asyncio
import os
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest
from shapely.geometry import MultiPolygon, box

from app import migrate
from app.auth.permissions import Actor
from app.contracts.service import ContractDraft, create_contract
from app.enterprises.service import create_enterprise
from app.organisations.service import create_organisation
from app.parcels.service import ParcelDraft, create_parcel
from tests import builders
from tests.conftest import TEST_URL, make_settings
from tests.contract_builders import uscc

BUREAU = Actor(0, "bureau", "bureau")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.live
async def test_evaluations_due_command_prints_the_queue_as_json_and_as_a_table(live_db):
    settings = make_settings()
    await builders.build_city(live_db)
    async with live_db.session() as session:
        org = await create_organisation(session, BUREAU, "Pudong", "district_government", builders.EAST)
        ent = await create_enterprise(session, BUREAU, "E", uscc(1), "C39")
        lon, lat = builders.BZ[0] + 0.01, builders.BZ[1] + 0.01
        square = MultiPolygon([box(lon, lat, lon + 0.001, lat + 0.001)])
        land = await create_parcel(session, BUREAU, settings.policy,
                                   ParcelDraft(code="CLI-1", land_use="industrial", geom=square))
        draft = ContractDraft(code="HT-CLI", parcel_id=land, enterprise_id=ent, responsible_org_id=org,
                              signed_on=date(2023, 5, 1), indicators={"output_per_mu": 300, "tax_per_mu": 20})
        contract_id = await create_contract(session, BUREAU, settings.policy, draft, date(2026, 6, 1))
    env = {**os.environ, "DATABASE_URL": TEST_URL, "LANDCYCLE_TODAY": "2026-06-01"}
    cli = [sys.executable, "-m", "app.cli", "evaluations", "due", "--within-days", "30"]
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*cli, "--json", cwd=ROOT, env=env, stdout=pipe, stderr=pipe)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    queue = orjson.loads(out)
    assert (queue["due"], queue["overdue"], queue["as_of"]) == (1, 1, "2026-06-01")
    assert [(i["contract_id"], i["stage"], i["due_on"], i["days_overdue"]) for i in queue["items"]] == [
        (contract_id, "commissioning", "2026-05-01", 31)]
    proc = await asyncio.create_subprocess_exec(*cli, cwd=ROOT, env=env, stdout=pipe, stderr=pipe)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "1 evaluations due by 2026-07-01 (1 overdue), as of 2026-06-01"
    assert lines[1].split() == ["due_on", "status", "stage", "district", "contract", "parcel", "enterprise",
                                "responsible"]
    assert lines[3].split() == ["2026-05-01", "overdue", "31", "d", "commissioning", "1", "310115", "HT-CLI",
                                "CLI-1", "E", "Pudong"]


@pytest.mark.live
async def test_the_contracts_migration_downgrades_to_0001_and_back_without_drift(engine):
    await asyncio.to_thread(migrate.downgrade, TEST_URL, "0001_initial")
    async with engine.connect() as conn:
        gone = await conn.run_sync(lambda c: c.exec_driver_sql(
            "SELECT to_regclass('contract'), to_regclass('evaluation'), to_regclass('parcel')").first())
    assert gone[0] is None and gone[1] is None and gone[2] is not None
    await asyncio.to_thread(migrate.upgrade, TEST_URL, "head")
    await asyncio.to_thread(migrate.check, TEST_URL)
