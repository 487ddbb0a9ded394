"""The HTTP service and the command line against a real PostgreSQL host.

tests/server and tests/cli run on memory:// and sqlite:///; these run the same operations on a
fresh PostgreSQL schema. The app (and each CLI command) opens its own host on the schema URL,
exactly as a separate server process would: resolving through it must wake the waiter that the
test parked on its own host object, and the two hosts share nothing but the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

# cli_support and server_support live beside their own tests; pyproject's pytest `pythonpath`
# puts those folders on sys.path for every test directory.
import cli_support
import httpx
import pytest
import server_support
from pg_support import HostMaker, schema_url
from server_support import AUTH, make_app, serve_in_process
from starlette.applications import Starlette

from effecthost import DurableEffectHost, EffectHostError, Resolution, open_host

pytestmark = pytest.mark.timeout(60)

Park = Callable[..., Awaitable[Any]]


@pytest.fixture
def url(pg_url: str, pg_schema: str) -> str:
    return schema_url(pg_url, pg_schema)


@pytest.fixture
async def host(make_host: HostMaker) -> DurableEffectHost:
    """The test's own host object (closed by make_host); the app and the CLI open others."""
    return await make_host()


@pytest.fixture
async def park(host: DurableEffectHost) -> AsyncIterator[Park]:
    """Park turns on the test's host; a waiter still parked at teardown is cancelled and awaited
    before the hosts close, so nothing is left pending when the schema is dropped."""
    tasks: list[asyncio.Task[Any]] = []

    async def parker(
        session_id: str, *, call_id: str = "call-1", helper: Park = server_support.park_turn
    ) -> Any:
        turn = await helper(host, session_id, call_id=call_id)
        tasks.append(turn.task)
        return turn

    yield parker
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def app(url: str, host: DurableEffectHost) -> Starlette:
    return make_app(url)  # opened after the test's host: the schema is already migrated


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as c:  # the lifespan closes the app's host on exit
        yield c


# ---- HTTP ---------------------------------------------------------------------------------------


async def test_health_and_readiness_report_the_postgres_backend(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "backend": "postgres"})
    assert app.state.host.backend == "postgres"


async def test_resolve_by_token_over_http_wakes_a_waiter_parked_on_another_host(
    client: httpx.AsyncClient, host: DurableEffectHost, app: Starlette, park: Park
) -> None:
    assert app.state.host is not host  # the app resolves through its own PostgreSQL host
    turn = await park("s-resolve")
    token = turn.key.to_token()
    assert (await client.get(f"/v1/await-events/{token}")).json() == {"status": "pending", "resolution": None}
    payload = {"approved": True, "by": "ops", "note": "zürich ✓", "steps": [1, {"n": None}], "z": {"a": "b"}}
    body = {"status": "ok", "payload": payload}
    answer = await client.post(f"/v1/await-events/{token}/resolve", json=body)
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    outcome = await turn.task
    assert outcome.resolution == Resolution.ok(payload)
    again = await client.post(
        f"/v1/await-events/{token}/resolve", json={"status": "err", "payload": {"code": "x", "message": "y"}}
    )
    assert again.json() == {"status": "already_resolved", "terminal": body}
    assert (await client.get(f"/v1/await-events/{token}")).json() == {
        "status": "resolved",
        "resolution": body,
    }
    assert await host.peek_await_event(turn.key) == Resolution.ok(payload)  # durable in PostgreSQL


async def test_forged_foreign_and_revoked_tokens_get_the_same_answer_as_on_memory(
    client: httpx.AsyncClient, host: DurableEffectHost, park: Park
) -> None:
    live = await park("s-live")
    revoked = await park("s-revoked")
    forged = dataclasses.replace(live.key, signature="0" * 64)
    stranger_url = f"memory://pg-service-foreign-{uuid.uuid4().hex}"  # another secret
    async with await open_host(stranger_url) as stranger:
        foreign = await stranger.await_event_key(live.scope, live.key.wait)
    assert (await client.post("/v1/sessions/s-revoked/revoke", headers=AUTH)).status_code == 200
    resolution = {"status": "ok", "payload": 1}
    answers, peeks = await server_support.resolve_and_peek_each(
        client, [forged, foreign, revoked.key], resolution
    )
    assert answers == peeks  # one 404 body for every kind of bad key, resolve and peek alike
    [(peek_status, peek_text)] = peeks
    assert peek_status == 404
    assert '"code":"await_event_unknown_or_revoked"' in peek_text
    # The same forged token against a memory:// app: byte-for-byte the same answers.
    memory_url = f"memory://pg-service-reference-{uuid.uuid4().hex}"
    async with await open_host(memory_url) as reference_host:
        reference = await server_support.park_turn(reference_host, "s-live")
        memory_app = make_app(memory_url)
        async with serve_in_process(memory_app) as memory_client:
            token = dataclasses.replace(reference.key, signature="0" * 64).to_token()
            resolved = await memory_client.post(f"/v1/await-events/{token}/resolve", json=resolution)
            peeked = await memory_client.get(f"/v1/await-events/{token}")
        reference.task.cancel()
        await asyncio.gather(reference.task, return_exceptions=True)
    assert answers == {(resolved.status_code, resolved.text)}
    assert peeks == {(peeked.status_code, peeked.text)}
    # None of it touched the live waiter, and the revoked one ended unknown_or_revoked.
    assert not live.task.done()
    assert (await client.get(f"/v1/await-events/{live.key.to_token()}")).json()["status"] == "pending"
    with pytest.raises(EffectHostError) as ended:
        await revoked.task
    assert ended.value.code == "await_event_unknown_or_revoked"


async def test_browsing_sessions_scopes_and_effects_shows_the_journaled_turn(
    client: httpx.AsyncClient, park: Park
) -> None:
    turn = await park("team/alice", call_id="call-7")
    sessions = (await client.get("/v1/sessions", headers=AUTH)).json()["sessions"]
    assert [
        (s["session_id"], s["scopes"], s["effects"], s["in_progress"], s["failed"]) for s in sessions
    ] == [("team/alice", 1, 2, 1, 0)]
    waits = (await client.get("/v1/sessions/team/alice/await-events", headers=AUTH)).json()
    assert [w["token"] for w in waits["await_events"]] == [turn.key.to_token()]
    assert waits["await_events"][0]["wait"] == {"type": "tool_completion", "tool_call_id": "call-7"}
    [scope] = (await client.get("/v1/scopes", params={"session_id": "team/alice"}, headers=AUTH)).json()[
        "scopes"
    ]
    assert scope["scope"] == {"type": "turn", "session_id": "team/alice", "turn_id": "turn-1"}
    assert (scope["session_id"], scope["effects"], scope["in_progress"]) == ("team/alice", 2, 1)
    effects = (
        await client.get("/v1/effects", params={"scope_key": scope["scope_key"]}, headers=AUTH)
    ).json()["effects"]
    by_kind = {e["kind"]: e for e in effects}
    assert set(by_kind) == {"durable_step", "await_event"}
    step, wait = by_kind["durable_step"], by_kind["await_event"]
    assert (step["effect_id"], step["status"]) == ("plan", "completed")
    assert step["outcome"] == {"type": "durable_step", "value": {"goal": "approve"}}
    assert (wait["effect_id"], wait["status"], wait["outcome"]) == ("call-7", "in_progress", None)
    assert wait["await_token"] == turn.key.to_token()
    assert wait["envelope"]["command"]["type"] == "await_event"
    assert all(isinstance(e["created_at_ms"], int) and e["created_at_ms"] > 0 for e in effects)


async def test_session_pages_partition_the_sessions(client: httpx.AsyncClient, park: Park) -> None:
    for session_id in ("s-a", "s_b", "s%c"):  # LIKE metacharacters must not matter anywhere
        await park(session_id)
    pages = []
    for offset in (0, 2, 4):
        page = await client.get("/v1/sessions", params={"limit": 2, "offset": offset}, headers=AUTH)
        pages.append([s["session_id"] for s in page.json()["sessions"]])
    assert [len(page) for page in pages] == [2, 1, 0]
    assert sorted(pages[0] + pages[1]) == ["s%c", "s-a", "s_b"]
    waits = (await client.get("/v1/sessions/s%25c/await-events", headers=AUTH)).json()
    assert [w["scope"]["session_id"] for w in waits["await_events"]] == ["s%c"]


async def test_a_resolution_over_the_hosts_payload_limit_is_413_and_leaves_the_waiter_parked(
    url: str, park: Park
) -> None:
    app = make_app(url + "&max_payload_bytes=200")  # the PostgreSQL host's own limit, not the body's
    async with serve_in_process(app) as client:
        turn = await park("s-limit")
        resolve = f"/v1/await-events/{turn.key.to_token()}/resolve"
        big = await client.post(resolve, json={"status": "ok", "payload": "x" * 500})
        assert (big.status_code, big.json()["code"]) == (413, "postgres_payload_too_large")
        assert (await client.get(f"/v1/await-events/{turn.key.to_token()}")).json()["status"] == "pending"
        assert not turn.task.done()
        small = await client.post(resolve, json={"status": "ok", "payload": "x" * 50})
        assert small.json() == {"status": "accepted"}
        assert (await turn.task).resolution == Resolution.ok("x" * 50)


async def test_cancel_sweep_resolves_the_parked_waiter_cancelled_and_retire_deletes_rows(
    client: httpx.AsyncClient, host: DurableEffectHost, park: Park
) -> None:
    turn = await park("s-cancel")
    unauthorized = await client.post("/v1/sessions/s-cancel/cancel")
    assert unauthorized.status_code == 401
    assert not turn.task.done()
    answer = await client.post("/v1/sessions/s-cancel/cancel", headers=AUTH)
    assert answer.json() == {"session_id": "s-cancel", "status": "cancelled", "cancelled": 1}
    assert (await turn.task).resolution == Resolution.CANCELLED
    waits = (await client.get("/v1/sessions/s-cancel/await-events", headers=AUTH)).json()["await_events"]
    assert waits == []
    retired = await client.post("/v1/sessions/s-cancel/retire", headers=AUTH)
    assert retired.json() == {"session_id": "s-cancel", "retired_rows": 2}
    assert (await client.get("/v1/sessions", headers=AUTH)).json()["sessions"] == []
    assert await host.browser.list_effects(turn.scope.journal_key()) == []  # gone from PostgreSQL


async def test_a_live_uvicorn_server_on_postgres_resolves_and_shuts_down_cleanly(
    url: str, host: DurableEffectHost, park: Park
) -> None:
    app = make_app(url)
    async with server_support.live_server(app) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/readyz")).json() == {"status": "ready", "backend": "postgres"}
        turn = await park("s-live-server")
        answer = await http.post(
            f"/v1/await-events/{turn.key.to_token()}/resolve", json={"status": "timeout"}
        )
        assert answer.json() == {"status": "accepted"}
        assert (await turn.task).resolution == Resolution.TIMEOUT
    assert app.state.host is None  # the lifespan closed the app's PostgreSQL host


# ---- command line -------------------------------------------------------------------------------


async def test_cli_journal_sessions_and_show_report_a_turn_journaled_on_postgres(
    url: str, park: Park
) -> None:
    await park("s-journal", helper=cli_support.park_turn)
    listed = await cli_support.cli("journal", "sessions", "--url", url, "--json")
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    [session] = report["sessions"]
    assert (session["session_id"], session["scopes"], session["effects"], session["in_progress"]) == (
        "s-journal",
        1,
        2,
        1,
    )
    shown = await cli_support.cli("journal", "show", "s-journal", "--url", url, "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["session_id"] == "s-journal"
    [scope] = document["scopes"]
    assert scope["scope"] == {"type": "turn", "session_id": "s-journal", "turn_id": "turn-1"}
    assert {e["kind"]: e["status"] for e in scope["effects"]} == {
        "durable_step": "completed",
        "await_event": "in_progress",
    }
    table = await cli_support.cli("journal", "show", "s-journal", "--url", url)
    assert table.exit_code == 0, table.output
    assert "durable_step" in table.stdout and "in_progress" in table.stdout
    other = await cli_support.cli("journal", "show", "s-nothing", "--url", url, "--json")
    assert json.loads(other.stdout) == {"session_id": "s-nothing", "scopes": []}


async def test_cli_await_list_peek_resolve_reach_a_waiter_parked_on_postgres(url: str, park: Park) -> None:
    turn = await park("s-await", helper=cli_support.park_turn)
    listed = await cli_support.cli("await", "list", "s-await", "--url", url, "--json")
    assert listed.exit_code == 0, listed.output
    [wait] = json.loads(listed.stdout)["await_events"]
    assert wait["token"] == turn.key.to_token()
    assert wait["wait"] == {"type": "tool_completion", "tool_call_id": "call-1"}
    peek = await cli_support.cli("await", "peek", wait["token"], "--url", url, "--json")
    assert (peek.exit_code, json.loads(peek.stdout)) == (0, {"status": "pending", "resolution": None})
    done = await cli_support.cli(
        "await", "resolve", wait["token"], "--url", url, "--ok", '{"approved": true}', "--json"
    )
    assert (done.exit_code, json.loads(done.stdout)) == (0, {"status": "accepted"})
    assert (await turn.task).resolution == Resolution.ok({"approved": True})
    again = await cli_support.cli("await", "resolve", wait["token"], "--url", url, "--err", "late", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {
        "status": "already_resolved",
        "terminal": {"status": "ok", "payload": {"approved": True}},
    }
    resolved = await cli_support.cli("await", "peek", wait["token"], "--url", url, "--json")
    assert json.loads(resolved.stdout) == {
        "status": "resolved",
        "resolution": {"status": "ok", "payload": {"approved": True}},
    }
    empty = await cli_support.cli("await", "list", "s-await", "--url", url, "--json")
    assert json.loads(empty.stdout) == {"session_id": "s-await", "await_events": []}


async def test_cli_forged_token_cancel_revoke_and_retire_on_postgres(
    url: str, host: DurableEffectHost, park: Park
) -> None:
    turn = await park("s-ops", helper=cli_support.park_turn)
    forged = dataclasses.replace(turn.key, signature="f" * 64).to_token()
    refused = await cli_support.cli("await", "resolve", forged, "--url", url, "--ok", "1")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "await_event_unknown_or_revoked: await-event key is invalid or revoked"
    assert not turn.task.done()
    assert (await cli_support.cli("await", "cancel", "s-ops", "--url", url)).exit_code == 0
    assert (await turn.task).resolution == Resolution.CANCELLED
    assert (await cli_support.cli("session", "revoke", "s-ops", "--url", url, "--yes")).exit_code == 0
    late = await cli_support.cli("await", "resolve", turn.key.to_token(), "--url", url, "--ok", "1")
    assert late.exit_code == 1
    assert late.stderr.startswith("await_event_unknown_or_revoked: ")
    retired = await cli_support.cli("journal", "retire", "s-ops", "--url", url, "--yes", "--json")
    assert json.loads(retired.stdout) == {"session_id": "s-ops", "retired_rows": 2}
    listed = await cli_support.cli("journal", "sessions", "--url", url, "--json")
    assert json.loads(listed.stdout)["sessions"] == []
    assert await host.browser.list_sessions() == []
