"""Any session id is addressable over real HTTP: the query/body routes carry it verbatim.

The path form (`/v1/sessions/{id}/...`) cannot carry every id: URL parsers remove `.` and `..`
segments (also written `%2e`) before the request leaves the client. The query and JSON body forms
have no such limit; these tests drive them through uvicorn with ids built to confuse a path.
"""

from __future__ import annotations

import httpx
import pytest
from server_support import AUTH, live_server, make_app, park_turn

from effecthost import DurableEffectHost, EffectHostError, ExecutionScope, Resolution, WaitIdentity

pytestmark = pytest.mark.timeout(60)

VICTIM = "victim"
IDS = [
    "evil/../victim",
    ".",
    "..",
    "../victim",
    "%2e",
    "%2E%2e/victim",
    "a?b#c",
    "100%",
    "%41",
    "with space",
    "plus+and&x=y",
    "\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c",
    "trailing/",
    "/leading",
    "line\nbreak",
]


async def _revoked(host: DurableEffectHost, session_id: str) -> bool:
    try:
        await host.await_event_key(ExecutionScope.turn(session_id, "later"), WaitIdentity.custom("x"))
    except EffectHostError:
        return True
    return False


@pytest.mark.parametrize("session_id", IDS)
async def test_query_and_body_routes_act_on_exactly_the_named_session(
    host_url: str, host: DurableEffectHost, session_id: str
) -> None:
    victim = await park_turn(host, VICTIM, call_id="victim-call")
    turn = await park_turn(host, session_id)
    try:
        async with live_server(make_app(host_url)) as base, httpx.AsyncClient(
            base_url=base, headers=AUTH
        ) as client:
            listed = await client.get("/v1/await-events", params={"session_id": session_id})
            assert listed.status_code == 200, listed.text
            assert listed.json()["session_id"] == session_id
            assert [w["token"] for w in listed.json()["await_events"]] == [turn.key.to_token()]
            body = {"session_id": session_id}

            cancelled = await client.post("/v1/sessions/cancel", json=body)
            assert cancelled.json() == {"session_id": session_id, "status": "cancelled", "cancelled": 1}
            assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]

            revoked = await client.post("/v1/sessions/revoke", json=body)
            assert revoked.json() == {
                "session_id": session_id,
                "status": "revoked",
                "pending_waits_revoked": 0,
            }
            assert await _revoked(host, session_id)

            retired = await client.post("/v1/sessions/retire", json=body)
            assert retired.json() == {"session_id": session_id, "retired_rows": 2}
            assert await host.browser.list_scopes(session_id) == []

        assert not victim.task.done()
        assert await host.list_outstanding_await_event_keys(VICTIM) == [victim.key]
        assert not await _revoked(host, VICTIM)
        assert sum(s.effects for s in await host.browser.list_scopes(VICTIM)) == 2
    finally:
        victim.task.cancel()
        turn.task.cancel()


async def test_the_path_form_carries_dot_segments_only_percent_encoded(
    host_url: str, host: DurableEffectHost
) -> None:
    """As documented: `/` as %2F keeps `..` inside one segment, which no client resolves."""
    victim = await park_turn(host, VICTIM, call_id="victim-call")
    turn = await park_turn(host, "evil/../victim")
    try:
        async with live_server(make_app(host_url)) as base, httpx.AsyncClient(
            base_url=base, headers=AUTH
        ) as client:
            waits = await client.get("/v1/sessions/evil%2F..%2Fvictim/await-events")
            assert waits.json()["session_id"] == "evil/../victim"
            assert [w["token"] for w in waits.json()["await_events"]] == [turn.key.to_token()]
            cancelled = await client.post("/v1/sessions/evil%2F..%2Fvictim/cancel")
            assert cancelled.json() == {"session_id": "evil/../victim", "status": "cancelled", "cancelled": 1}
            assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
        assert not victim.task.done()
    finally:
        victim.task.cancel()
        turn.task.cancel()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "request_body_missing"),
        (b"{", "request_body_malformed"),
        (b"[]", "invalid_parameter"),
        (b"{}", "invalid_parameter"),
        (b'{"session_id": 7}', "invalid_parameter"),
        (b'{"session_id": "s", "extra": 1}', "invalid_parameter"),
        (b'{"session_id": " "}', "blank"),
    ],
)
@pytest.mark.parametrize("action", ["cancel", "revoke", "retire"])
async def test_session_action_bodies_are_checked(
    client: httpx.AsyncClient, action: str, content: bytes, code: str
) -> None:
    if code == "blank":  # a well-formed body: the library refuses the id, as on the path form
        path_form = await client.post(f"/v1/sessions/%20/{action}", headers=AUTH)
        code = path_form.json()["code"]
        assert path_form.status_code == 400
    response = await client.post(f"/v1/sessions/{action}", content=content, headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (400, code)


@pytest.mark.parametrize("query", ["", "?session_id=", "?other=x"])
async def test_listing_waits_needs_a_session_id(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/v1/await-events{query}", headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")


BAD_IDS = ["a\x00b", "a\u200bb", "e\u0301"]  # NUL, a zero-width space, NFD (concepts.md, Ids)


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_an_id_no_store_holds_exactly_is_400_invalid_id_on_every_backend(
    backend_url: str, bad: str
) -> None:
    """Before, PostgreSQL answered 503 (a store DataError) or a NUL was cut by libpq, while SQLite
    and memory answered 200: one rule now, before any backend sees the id."""
    import json

    async with live_server(make_app(backend_url)) as base, httpx.AsyncClient(
        base_url=base, headers=AUTH
    ) as client:
        body = json.dumps({"session_id": bad}).encode()
        answers = [
            await client.get("/v1/await-events", params={"session_id": bad}),
            await client.get("/v1/scopes", params={"session_id": bad}),
            await client.get("/v1/effects", params={"scope_key": ExecutionScope.turn("s", "t").journal_key()[:-1] + bad}),
            *[await client.post(f"/v1/sessions/{action}", content=body) for action in ("cancel", "revoke", "retire")],
        ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, "invalid_id")] * len(answers)
