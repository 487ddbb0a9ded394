"""``GET /metrics``: Prometheus text, admin only, with what the service and the substrate hold."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from server_support import AUTH, make_app, park_turn, serve_in_process

from effecthost import DurableEffectHost, Turn, durable_turn


@durable_turn(name="parked")
async def parked(turn: Turn) -> str:
    return "never driven here"


def _value(text: str, name: str, **labels: str) -> float:
    """The value of the one series ``name`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if all(have.get(k) == v for k, v in labels.items()):
            found.append(float(match.group(3)))
    assert len(found) == 1, f"{name} {labels}: {found} in\n{text}"
    return found[0]


async def test_metrics_need_the_admin_token_and_show_the_substrate_and_the_service(
    host_url: str, host: DurableEffectHost
) -> None:
    for n in range(3):
        await host.start_turn(parked, session_id="s", turn_id=f"t{n}")
    turn = await park_turn(host, "s-metrics")
    async with serve_in_process(make_app(host_url)) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        waits = (await client.get("/v1/sessions/s-metrics/await-events", headers=AUTH)).json()
        [wait] = waits["await_events"]
        resolved = await client.post(
            f"/v1/await-events/{wait['token']}/resolve", json={"status": "ok", "payload": 1}
        )
        assert resolved.json() == {"status": "accepted"}
        await turn.task
        answer = await client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert _value(text, "effecthost_turns", effecthost_turn_status="pending") == 3
    assert _value(text, "effecthost_turns", effecthost_turn_status="waiting") == 0
    assert _value(text, "effecthost_await_events_resolved_total", effecthost_resolve_outcome="accepted") == 1
    requests = "http_server_request_duration_seconds_count"
    assert _value(text, requests, http_route="/healthz", http_response_status_code="200") == 1
    assert _value(text, requests, http_route="/v1/await-events/{token}/resolve") == 1


async def test_metrics_off_answer_a_coded_404(host_url: str, host: DurableEffectHost) -> None:
    async with serve_in_process(make_app(host_url, metrics=False)) as client:
        answer = await client.get("/metrics", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["code"] == "metrics_unavailable"
    assert "effecthost[prometheus]" in answer.json()["message"]


async def test_each_request_is_one_log_line_without_its_query(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="effecthost.server.requests")
    await client.get("/v1/sessions?token=admin-secret", headers=AUTH)
    [record] = [r for r in caplog.records if r.name == "effecthost.server.requests"]
    fields = record.effecthost  # type: ignore[attr-defined]
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/v1/sessions", 200)
    assert "admin-secret" not in record.getMessage() and "token" not in str(fields)
