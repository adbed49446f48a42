"""Schemathesis against the app's own OpenAPI (SPEC §5 REST): every operation, authenticated as several
roles, over real HTTP to a real server on the test database. No 5xx, no response outside its documented
schema, no problem+json without a SPEC code. `make fuzz` runs many more examples (FUZZ_EXAMPLES)."""

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from app.errors import ALL_ERRORS
from app.main import create_app
from tests.builders import BZ, basic, build_city, create_parcel, square
from tests.servers import free_port, start_server, stop_server

pytestmark = [pytest.mark.live, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# The SPEC §6 codes, plus the HTTP-level ones a client can meet before any rule runs.
KNOWN_CODES = {cls.code for cls in ALL_ERRORS} | {"PAYLOAD_TOO_LARGE", "REQUEST_TIMEOUT", "METHOD_NOT_ALLOWED"}
ROLES = ("bureau", "officer.east", "viewer")


async def _seed() -> None:
    """The small test city and a few parcels, committed to the test database."""
    from app.db import Database, create_engine
    from tests.builders import truncate
    from tests.conftest import make_settings

    db = Database(create_engine(make_settings()))
    try:
        async with db.session() as session:
            await truncate(session)
        await build_city(db)
        app = create_app(make_settings(), db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for i in range(3):
                await create_parcel(client, square(BZ[0] + 0.01 * i, BZ[1] + 0.01), code=f"FZ-{i}")
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def server(engine):
    """A real server process on the seeded test database."""
    import asyncio

    asyncio.run(_seed())
    port = free_port()
    proc = start_server(port, LANDCYCLE_SECRET_KEY="fuzz-test-key-for-the-suite-only-0123456789",
                        LANDCYCLE_LOG_LEVEL="error", LANDCYCLE_LOGIN_FAILURES_ALLOWED="100000",
                        LANDCYCLE_LOGIN_FAILURES_PER_ADDRESS="100000")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)
        asyncio.run(_empty())  # leave the test database as the other live tests expect it


async def _empty() -> None:
    from app.db import Database, create_engine
    from tests.builders import truncate
    from tests.conftest import make_settings

    db = Database(create_engine(make_settings()))
    try:
        async with db.session() as session:
            await truncate(session)
    finally:
        await db.dispose()


# The operations come from the app's own OpenAPI document (built in-process: no server needed to
# collect the tests); the requests go over HTTP to the real server.
SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@schemathesis.check
def problems_carry_a_spec_code(ctx, response, case):
    """Every problem+json names a code a client can look up, and never a stack trace."""
    if response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        body = response.json()
        assert body.get("code") in KNOWN_CODES, f"problem without a SPEC code: {body}"
        assert "Traceback" not in response.text


CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.status_code_conformance,
          problems_carry_a_spec_code]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_operation_as_every_role(operation, server):
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        for user in ROLES:
            case.call_and_validate(base_url=server, headers=basic(user), checks=CHECKS, timeout=60)

    run()
