"""The /v1 JSON API in-process: resolve/peek by token, admin operations, browsing, errors."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import ADMIN, AUTH, make_app, park_turn, resolve_and_peek_each, serve_in_process

from effecthost import (
    DurableEffectHost,
    EffectHostError,
    ExecutionScope,
    ManualClock,
    Resolution,
    open_host,
)
from effecthost.server import create_app
from effecthost.testing.conformance._support import record_step

pytestmark = pytest.mark.timeout(30)


async def test_health_and_readiness_answer_with_the_backend(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "backend": "memory"}


async def test_resolve_by_token_wakes_the_parked_waiter_with_exactly_that_resolution(
    client: httpx.AsyncClient, host: DurableEffectHost
) -> None:
    turn = await park_turn(host, "s-resolve")
    token = turn.key.to_token()
    assert (await client.get(f"/v1/await-events/{token}")).json() == {
        "status": "pending",
        "resolution": None,
    }
    body = {"status": "ok", "payload": {"approved": True, "by": "ops"}}
    answer = await client.post(f"/v1/await-events/{token}/resolve", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"status": "accepted"}
    outcome = await turn.task
    assert outcome.resolution == Resolution.ok({"approved": True, "by": "ops"})  # type: ignore[attr-defined]
    again = await client.post(
        f"/v1/await-events/{token}/resolve",
        json={"status": "err", "payload": {"code": "x", "message": "y"}},
    )
    assert again.json() == {"status": "already_resolved", "terminal": body}
    peek = await client.get(f"/v1/await-events/{token}")
    assert peek.json() == {"status": "resolved", "resolution": body}


async def test_forged_unknown_and_revoked_keys_get_the_same_answer(
    client: httpx.AsyncClient, host: DurableEffectHost
) -> None:
    live = await park_turn(host, "s-live")
    revoked = await park_turn(host, "s-revoked")
    forged = dataclasses.replace(live.key, signature="0" * 64)
    async with await open_host("memory://another-secret") as stranger:
        foreign = await stranger.await_event_key(live.scope, live.key.wait)
    assert (await client.post("/v1/sessions/s-revoked/revoke", headers=AUTH)).status_code == 200
    resolution = {"status": "ok", "payload": 1}
    answers, peeks = await resolve_and_peek_each(client, [forged, foreign, revoked.key], resolution)
    # a failure a webhook sender sees (not a 2xx), one body for every kind of bad key
    assert answers == peeks
    assert len(answers) == 1
    status, text = answers.pop()
    assert status == 404
    assert '"code":"await_event_unknown_or_revoked"' in text
    assert not live.task.done()
    live.task.cancel()
    with pytest.raises(EffectHostError):
        await revoked.task  # a revoked session's waiter ends with unknown_or_revoked


@pytest.mark.parametrize("token", ["nope", "ehk1.%25%25", "ehk1.bm90IGpzb24", "ehk1." + "A" * 9000])
async def test_malformed_tokens_get_the_same_404_as_forged_ones(
    client: httpx.AsyncClient, host: DurableEffectHost, token: str
) -> None:
    live = await park_turn(host, "s-malformed")
    forged = dataclasses.replace(live.key, signature="0" * 64).to_token()
    expected = await client.post(f"/v1/await-events/{forged}/resolve", json={"status": "timeout"})
    for response in (
        await client.get(f"/v1/await-events/{token}"),
        await client.post(f"/v1/await-events/{token}/resolve", json={"status": "timeout"}),
    ):
        assert (response.status_code, response.content) == (404, expected.content)
    live.task.cancel()


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "request_body_malformed"),
        (b"\xff\xfe", 400, "request_body_malformed"),
        (b"", 400, "request_body_missing"),
        (b'{"status":"ok","payload":NaN}', 400, "request_body_malformed"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "request_body_too_large"),
        (b"[" * 5000 + b"]" * 5000, 400, "request_body_malformed"),
        (
            b'{"status":"ok","payload":' + b"[" * 300 + b"]" * 300 + b"}",
            422,
            "canonical_json_too_deep",
        ),
        (b'{"status":"ok"}', 422, "await_event_resolution_invalid"),
        (
            b'{"status":"err","payload":{"code":1,"message":"m"}}',
            422,
            "await_event_resolution_invalid",
        ),
        (b'"ok"', 422, "await_event_resolution_invalid"),
        (
            b'{"status":"ok","payload":123456789012345678901234567890}',
            422,
            "canonical_json_integer_range",
        ),
    ],
)
async def test_bad_bodies_get_4xx_with_codes(
    host_url: str, host: DurableEffectHost, content: bytes, status: int, code: str
) -> None:
    app = make_app(host_url, max_body_bytes=64_000)
    async with serve_in_process(app) as client:
        turn = await park_turn(host, "s-bodies")
        url = f"/v1/await-events/{turn.key.to_token()}/resolve"
        response = await client.post(url, content=content)
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert not turn.task.done()
        turn.task.cancel()


async def test_oversized_streamed_body_without_length_is_413(
    host_url: str, host: DurableEffectHost
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * 1000

    app = make_app(host_url, max_body_bytes=4096)
    async with serve_in_process(app) as client:
        turn = await park_turn(host, "s-stream")
        response = await client.post(
            f"/v1/await-events/{turn.key.to_token()}/resolve", content=chunks()
        )
        assert response.status_code == 413
        assert response.json()["code"] == "request_body_too_large"
        turn.task.cancel()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sessions"),
        ("GET", "/v1/scopes?session_id=s"),
        ("GET", "/v1/effects?scope_key=k"),
        ("GET", "/v1/sessions/s/await-events"),
        ("POST", "/v1/sessions/s/cancel"),
        ("POST", "/v1/sessions/s/revoke"),
        ("POST", "/v1/sessions/s/retire"),
        ("GET", "/v1/await-events?session_id=s"),
        ("POST", "/v1/sessions/cancel"),
        ("POST", "/v1/sessions/revoke"),
        ("POST", "/v1/sessions/retire"),
    ],
)
async def test_admin_routes_need_the_bearer_token(
    client: httpx.AsyncClient, host_url: str, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN}):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
    disabled = create_app(host_url, admin_token=None)
    async with serve_in_process(disabled) as other:
        response = await other.request(method, path, headers=AUTH)
        assert (response.status_code, response.json()["code"]) == (403, "admin_disabled")


async def test_optional_resolve_token_guards_resolve_and_peek(
    host_url: str, host: DurableEffectHost
) -> None:
    app = make_app(host_url, resolve_token="hook-secret")
    async with serve_in_process(app) as client:
        turn = await park_turn(host, "s-hook")
        url = f"/v1/await-events/{turn.key.to_token()}"
        refused = await client.post(url + "/resolve", json={"status": "timeout"})
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=AUTH)).status_code == 200  # admin may peek too
        hook = {"Authorization": "Bearer hook-secret"}
        accepted = await client.post(url + "/resolve", json={"status": "timeout"}, headers=hook)
        assert accepted.json() == {"status": "accepted"}
        assert (await turn.task).resolution == Resolution.TIMEOUT  # type: ignore[attr-defined]


async def test_browsing_sessions_scopes_effects_and_outstanding_waits(
    client: httpx.AsyncClient, host: DurableEffectHost
) -> None:
    turn = await park_turn(host, "team/alice", call_id="call-7")
    sessions = (await client.get("/v1/sessions", headers=AUTH)).json()["sessions"]
    assert [(s["session_id"], s["effects"], s["in_progress"]) for s in sessions] == [
        ("team/alice", 2, 1)
    ]
    waits = (await client.get("/v1/sessions/team/alice/await-events", headers=AUTH)).json()
    assert [w["token"] for w in waits["await_events"]] == [turn.key.to_token()]
    assert waits["await_events"][0]["wait"] == {"type": "tool_completion", "tool_call_id": "call-7"}
    scopes = (
        await client.get("/v1/scopes", params={"session_id": "team/alice"}, headers=AUTH)
    ).json()
    [scope] = scopes["scopes"]
    assert scope["scope"] == {"type": "turn", "session_id": "team/alice", "turn_id": "turn-1"}
    effects = (
        await client.get("/v1/effects", params={"scope_key": scope["scope_key"]}, headers=AUTH)
    ).json()["effects"]
    by_kind = {e["kind"]: e for e in effects}
    assert by_kind["durable_step"]["status"] == "completed"
    assert by_kind["durable_step"]["outcome"] == {
        "type": "durable_step",
        "value": {"goal": "approve"},
    }
    assert by_kind["durable_step"]["effect_id"] == "plan"
    assert by_kind["await_event"]["status"] == "in_progress"
    assert by_kind["await_event"]["await_token"] == turn.key.to_token()
    assert by_kind["await_event"]["envelope"]["command"]["type"] == "await_event"
    turn.task.cancel()


async def test_cancel_sweep_resolves_waiters_cancelled_and_retire_deletes_rows(
    client: httpx.AsyncClient, host: DurableEffectHost
) -> None:
    turn = await park_turn(host, "s-cancel")
    answer = await client.post("/v1/sessions/s-cancel/cancel", headers=AUTH)
    assert answer.json() == {"session_id": "s-cancel", "status": "cancelled", "cancelled": 1}
    assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
    retired = await client.post("/v1/sessions/s-cancel/retire", headers=AUTH)
    assert retired.json() == {"session_id": "s-cancel", "retired_rows": 2}
    assert (await client.get("/v1/sessions", headers=AUTH)).json()["sessions"] == []


@pytest.mark.parametrize("listing", ["/v1/sessions?", "/v1/effects?scope_key=k&"])
@pytest.mark.parametrize(
    "query", ["limit=0", "limit=abc", "limit=1001", "offset=-1", "limit=%C2%B2"]
)
async def test_bad_paging_parameters_are_400(
    client: httpx.AsyncClient, listing: str, query: str
) -> None:
    response = await client.get(f"{listing}{query}", headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_effects_page_through_a_scope_in_a_stable_total_order(
    backend: str, tmp_path: Path
) -> None:
    """7 rows in pages of 3: 3/3/1, together exactly the unpaged listing, none repeated, in run
    order."""
    if backend == "memory":
        url, options = f"memory://paging-{uuid.uuid4().hex}", {}
    else:
        # one frozen clock: every row shares created_at_ms, so only replay_key can order them
        url, options = f"sqlite:///{tmp_path / 'paging.db'}", {"clock": ManualClock()}
    keys = [f"step-{i}" for i in range(7)]
    scope = ExecutionScope.turn("s-paging", "turn-1")
    async with await open_host(url, **options) as host:
        for key in reversed(keys):
            await record_step(host, scope, key)
        await record_step(host, ExecutionScope.turn("s-paging", "turn-2"), "step-0")
        async with serve_in_process(make_app(url)) as client:

            async def page(**paging: int) -> dict[str, Any]:
                params = {"scope_key": scope.journal_key(), **paging}
                response = await client.get("/v1/effects", params=params, headers=AUTH)
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                return body

            whole = await page()
            assert (whole["scope_key"], whole["limit"], whole["offset"]) == (
                scope.journal_key(),
                100,
                0,
            )
            listed = [e["replay_key"] for e in whole["effects"]]
            # run order (seq), not the replay keys' order, even when they share a millisecond
            assert listed == list(reversed(keys))
            assert [e["seq"] for e in whole["effects"]] == list(range(1, 8))
            pages = [await page(limit=3, offset=offset) for offset in (0, 3, 6, 9)]
            assert [(p["limit"], p["offset"]) for p in pages] == [(3, 0), (3, 3), (3, 6), (3, 9)]
            assert [len(p["effects"]) for p in pages] == [3, 3, 1, 0]
            paged = [e["replay_key"] for p in pages for e in p["effects"]]
            assert paged == listed
            assert len(set(paged)) == len(paged)
            assert [p["effects"] for p in pages[:3]] == [
                whole["effects"][i : i + 3] for i in (0, 3, 6)
            ]


async def test_missing_scope_key_and_blank_session_are_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/effects", headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")
    blank = await client.post("/v1/sessions/%20/revoke", headers=AUTH)
    assert (blank.status_code, blank.json()["code"]) == (400, "invalid_await_event_session_id")


async def test_unknown_routes_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = await client.delete("/v1/sessions")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


async def test_unexpected_exceptions_become_500_internal_error_without_traceback(
    host_url: str, host: DurableEffectHost
) -> None:
    app = make_app(host_url)
    async with app.router.lifespan_context(app):

        async def explode(*_: object, **__: object) -> None:
            raise RuntimeError("secret internals")

        app.state.host.browser.list_sessions = explode  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/sessions", headers=AUTH)
            ready = await client.get("/readyz")
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal server error"}
    assert "secret" not in response.text
    assert (ready.status_code, ready.json()["code"]) == (503, "not_ready")


async def test_before_startup_the_api_is_503_not_ready(host_url: str) -> None:
    app = make_app(host_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    assert (response.status_code, response.json()["code"]) == (503, "not_ready")


def test_create_app_refuses_bad_options() -> None:
    for options in ({"admin_token": " "}, {"admin_token": "a", "max_body_bytes": 0}):
        with pytest.raises(EffectHostError) as caught:
            create_app("memory://x", **options)  # type: ignore[arg-type]
        assert caught.value.code == "host_option_invalid"
