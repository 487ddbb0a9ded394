"""The API over a real uvicorn server on loopback, with the waiter parked in this test."""

from __future__ import annotations

import httpx
import pytest
from server_support import AUTH, live_server, make_app, park_turn

from effecthost import DurableEffectHost, Resolution

pytestmark = pytest.mark.timeout(60)


async def test_resolve_over_real_http_reaches_the_waiter(host_url: str, host: DurableEffectHost) -> None:
    async with live_server(make_app(host_url, max_body_bytes=2048)) as base:
        turn = await park_turn(host, "s-live-http")
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/readyz")).json()["status"] == "ready"
            waits = (await client.get("/v1/sessions/s-live-http/await-events", headers=AUTH)).json()
            [wait] = waits["await_events"]
            body = {"status": "err", "payload": {"code": "denied", "message": "not today"}}
            answer = await client.post(f"/v1/await-events/{wait['token']}/resolve", json=body)
            assert answer.json() == {"status": "accepted"}
            outcome = await turn.task
            assert outcome.resolution == Resolution.err("denied", "not today")  # type: ignore[attr-defined]
            big = await client.post(
                f"/v1/await-events/{wait['token']}/resolve",
                content=b'{"status":"ok","payload":"' + b"x" * 4096 + b'"}',
                headers={"Content-Type": "application/json"},
            )
            assert (big.status_code, big.json()["code"]) == (413, "request_body_too_large")
            page = await client.get("/")
            assert page.status_code == 200
            assert "<title>effecthost</title>" in page.text
            script = await client.get("/static/app.js")
            assert script.status_code == 200
            missing = await client.get("/static/nope.js")
            assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
