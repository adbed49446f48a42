"""Resource bounds at the edge: body size, stalled bodies, bbox size, page size (SPEC §5: limit max 10,000)."""

import asyncio

import httpx

from app.main import create_app
from tests.builders import basic, feature, square
from tests.conftest import make_settings


async def test_a_body_over_the_limit_is_refused_before_it_is_read(db, city):
    app = create_app(make_settings(max_body_bytes=2_000), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        big = feature(square(121.45, 31.2), code="X" * 10, land_use="industrial", reason="x" * 5000)
        r = await client.post("/api/v1/parcels", json=big, headers=basic("bureau"))
        assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_chunked_body_over_the_limit_is_refused_too(db, city):
    app = create_app(make_settings(max_body_bytes=1_000), db)

    async def chunks():
        for _ in range(10):
            yield b"x" * 500

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post("/api/v1/parcels", content=chunks(),
                              headers={**basic("bureau"), "Content-Type": "application/json"})
        assert r.status_code == 413


async def test_a_stalled_body_gets_408_instead_of_pinning_a_worker(db, city):
    app = create_app(make_settings(body_timeout_seconds=0.2), db)
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b'{"type":', "more_body": True}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(10)  # the client never sends the rest
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/parcels", "raw_path": b"/api/v1/parcels",
             "query_string": b"", "headers": [(b"content-type", b"application/json"),
                                              (b"authorization", basic("bureau")["Authorization"].encode())],
             "client": ("127.0.0.1", 1), "server": ("t", 80), "scheme": "http", "http_version": "1.1",
             "root_path": "", "state": {}}
    await asyncio.wait_for(app(scope, receive, send), 5)
    assert sent[0]["status"] == 408


async def test_a_bbox_wider_than_the_limit_is_a_clear_error(client, city):
    r = await client.get("/api/v1/parcels?bbox=100,20,130,40", headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    assert "smaller window" in r.json()["detail"]
    r = await client.get("/api/v1/parcels?bbox=1,2,3", headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_page_sizes_are_clamped_and_negative_ones_refused(client, city):
    r = await client.get("/api/v1/parcels?limit=50000", headers=basic("bureau"))
    assert r.status_code == 200
    r = await client.get("/api/v1/parcels?limit=-1", headers=basic("bureau"))
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
