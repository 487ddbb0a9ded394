"""The operator console's HTTP scenarios, run on memory, SQLite (tests/server/test_console_api.py)
and PostgreSQL (tests/postgres/test_pg_console.py): the app opens its own host on the URL, a
Worker on the test's host drives the turns, and every answer is checked through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from server_support import AUTH, make_app, serve_in_process

from effecthost import DurableEffectHost, Resolution, Turn, Worker, durable_turn

VIEWER_SECRET, RESOLVER_SECRET, OPS_SECRET = (
    "viewer-secret-0123456789",
    "resolver-secret-012345",
    "ops-admin-secret-0123456",
)
TOKENS = {
    "vera": ("viewer", VIEWER_SECRET),
    "rosa": ("resolver", RESOLVER_SECRET),
    "otto": ("admin", OPS_SECRET),
}
VIEWER = {"Authorization": f"Bearer {VIEWER_SECRET}"}
RESOLVER = {"Authorization": f"Bearer {RESOLVER_SECRET}"}
OPS = {"Authorization": f"Bearer {OPS_SECRET}"}

#: How many times the flaky step has failed; it fails once per test run, then succeeds.
FLAKY: dict[str, int] = {}


@durable_turn(name="console-approval")
async def approval_turn(turn: Turn, amount: int) -> dict[str, Any]:
    plan = await turn.step("plan", lambda: {"amount": amount})
    answer = await turn.wait("approve", question={"tool": "refund", "args": {"amount": amount}})
    if answer.status != "ok":
        return {"plan": plan, "approved": False, "answer": answer.to_json()}
    return {"plan": plan, "approved": True, "payload": answer.payload}


@durable_turn(name="console-flaky")
async def flaky_turn(turn: Turn, run: str) -> str:
    await turn.step("first", lambda: "one")

    def second() -> str:
        if FLAKY.get(run, 0) == 0:
            FLAKY[run] = 1
            raise RuntimeError("the booking API timed out")
        return "two"

    return await turn.step("second", second)


TURNS = [approval_turn, flaky_turn]


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Wait for state another task changes (a worker driving a turn)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for a state"
        await asyncio.sleep(0.02)


async def turn_status(client: httpx.AsyncClient, session_id: str, turn_id: str) -> str:
    answer = await client.get("/v1/turn", params={"session_id": session_id, "turn_id": turn_id}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["turn"]["status"]
    return status


async def console_scenario(url: str, host: DurableEffectHost, run: str) -> None:
    """Start turns by name over HTTP, find them, approve from the inbox, reject with a reason,
    cancel, resume a failed turn, fork it; every refusal by role; the safeguards."""
    app = make_app(url, tokens=TOKENS)
    async with (
        serve_in_process(app) as client,
        Worker(host, TURNS, suspend_after_s=0.05, poll_interval_s=0.05),
    ):
        # ---- the change feed: still while nothing changes, moves when a turn starts
        quiet = (await client.get("/v1/changes", headers=VIEWER)).json()
        assert (await client.get("/v1/changes", headers=VIEWER)).json() == quiet

        # ---- start by name, idempotent by turn id
        body = {"name": "console-approval", "session_id": f"{run}-a", "turn_id": "t1", "input": {"amount": 5}}
        first = await client.post("/v1/turns", json=body, headers=OPS)
        assert first.status_code == 201, first.text
        again = await client.post("/v1/turns", json=body, headers=OPS)
        assert (again.status_code, again.json()["created"]) == (200, False)
        other = await client.post("/v1/turns", json={**body, "input": {"amount": 6}}, headers=OPS)
        assert (other.status_code, other.json()["code"]) == (409, "turn_start_conflict")
        moved = (await client.get("/v1/changes", headers=VIEWER)).json()
        assert moved["token"] != quiet["token"] and moved["live_turns"] >= 1
        keyed = await client.post(
            "/v1/turns",
            json={"name": "console-approval", "session_id": f"{run}-b", "input": {"amount": 7}},
            headers={**OPS, "Idempotency-Key": "t2"},
        )
        assert keyed.status_code == 201 and keyed.json()["turn"]["turn_id"] == "t2"
        assert (await client.post("/v1/turns", json=body, headers=RESOLVER)).status_code == 403

        # ---- both park on their approval: the inbox shows them with question and turn
        async def both_waiting() -> bool:
            waits = (await client.get("/v1/waits", headers=VIEWER)).json()["waits"]
            return len([w for w in waits if w["session_id"] in (f"{run}-a", f"{run}-b")]) == 2

        await until(both_waiting)
        await until(lambda: _is(client, f"{run}-a", "t1", "waiting"))
        await until(lambda: _is(client, f"{run}-b", "t2", "waiting"))
        # ---- awaiting a result: not done while it waits; a bad timeout is refused
        result_a = {"session_id": f"{run}-a", "turn_id": "t1"}
        pending = await client.get("/v1/turns/result", params={**result_a, "timeout_s": 0.05}, headers=VIEWER)
        assert (pending.status_code, pending.json()["done"]) == (200, False), pending.text
        assert pending.json()["turn"]["status"] == "waiting"
        for bad_wait in ("-1", "61", "soon"):
            refused_wait = await client.get(
                "/v1/turns/result", params={**result_a, "timeout_s": bad_wait}, headers=VIEWER
            )
            assert (refused_wait.status_code, refused_wait.json()["code"]) == (400, "invalid_parameter")
        unknown = await client.get("/v1/turns/result", params={**result_a, "turn_id": "nope"}, headers=VIEWER)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "turn_not_found")
        waits = [
            w
            for w in (await client.get("/v1/waits", headers=VIEWER)).json()["waits"]
            if w["session_id"].startswith(run)
        ]
        by_session = {w["session_id"]: w for w in waits}
        wait_a = by_session[f"{run}-a"]
        assert wait_a["question"] == {"tool": "refund", "args": {"amount": 5}}
        assert wait_a["name"] == "approve"
        assert wait_a["turn"]["name"] == "console-approval" and wait_a["turn"]["input"] == {"amount": 5}
        assert wait_a["status"] == "pending"
        paged = await client.get("/v1/waits", params={"limit": 1}, headers=VIEWER)
        assert paged.json()["next"] is not None
        rest = await client.get("/v1/waits", params={"after": paged.json()["next"]}, headers=VIEWER)
        assert paged.json()["waits"][0]["token"] not in {w["token"] for w in rest.json()["waits"]}

        # ---- list turns: filters, search, keyset paging, order
        listed = (
            await client.get(
                "/v1/turns", params={"status": "waiting", "name": "console-approval"}, headers=VIEWER
            )
        ).json()
        assert {(t["session_id"], t["turn_id"]) for t in listed["turns"]} >= {
            (f"{run}-a", "t1"),
            (f"{run}-b", "t2"),
        }
        found = (await client.get("/v1/turns", params={"q": "t2"}, headers=VIEWER)).json()["turns"]
        assert [t["session_id"] for t in found if t["session_id"].startswith(run)] == [f"{run}-b"]
        newest = (await client.get("/v1/turns", params={"limit": 1}, headers=VIEWER)).json()
        older = (
            await client.get("/v1/turns", params={"limit": 1, "after": newest["next"]}, headers=VIEWER)
        ).json()
        assert newest["turns"][0]["created_at_ms"] >= older["turns"][0]["created_at_ms"]
        assert (
            newest["turns"][0]["turn_id"] != older["turns"][0]["turn_id"]
            or newest["turns"][0]["session_id"] != older["turns"][0]["session_id"]
        )
        bad = await client.get("/v1/turns", params={"after": "not-a-cursor"}, headers=VIEWER)
        assert (bad.status_code, bad.json()["code"]) == (400, "invalid_argument")
        assert (await client.get("/v1/turns", params={"status": "nope"}, headers=VIEWER)).status_code == 400

        # ---- roles: a viewer cannot resolve, a resolver can; the record says who
        approve = {"status": "ok", "payload": {"approved": True}}
        resolve_a = f"/v1/await-events/{wait_a['token']}/resolve"
        refused = await client.post(resolve_a, json=approve, headers=VIEWER)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        accepted = await client.post(resolve_a, json=approve, headers=RESOLVER)
        assert accepted.json() == {"status": "accepted"}
        ended = await client.get("/v1/turns/result", params={**result_a, "timeout_s": 10}, headers=VIEWER)
        assert ended.json()["done"] is True and ended.json()["turn"]["status"] == "completed"
        assert ended.json()["turn"]["result"]["payload"] == {"approved": True}
        await until(lambda: _is(client, f"{run}-a", "t1", "completed"))
        detail = (
            await client.get("/v1/turn", params={"session_id": f"{run}-a", "turn_id": "t1"}, headers=VIEWER)
        ).json()
        assert detail["turn"]["result"] == {
            "plan": {"amount": 5},
            "approved": True,
            "payload": {"approved": True},
        }
        effects = detail["effects"]
        assert [e["seq"] for e in effects] == list(range(1, len(effects) + 1))
        assert [e["effect_id"] for e in effects] == ["plan#1", "approve#1:deadline", "approve#1"], [e["effect_id"] for e in effects]
        assert (effects[-1]["resolved_by"], effects[-1]["kind"]) == ("rosa", "await_event")
        assert isinstance(effects[-1]["resolved_at_ms"], int)
        # executed vs replayed per drive: the first drive ran the plan and the wait's deadline
        # and parked (the wait's own row is claimed by the drive that finds it answered); the
        # drive the approval woke replayed both and took the answer
        drives = detail["drives"]
        assert [d["drive"] for d in drives] == list(range(1, len(drives) + 1)) and len(drives) >= 2
        assert (drives[0]["executed"], drives[0]["replayed"]) == ([1, 2], []), drives
        assert (drives[-1]["executed"], drives[-1]["replayed"]) == ([3], [1, 2]), drives
        assert all((d["executed"], d["replayed"]) == ([], [1, 2]) for d in drives[1:-1]), drives
        assert [d["started_at_ms"] for d in drives] == sorted(d["started_at_ms"] for d in drives)
        later = [d["drive"] for d in drives[1:]]
        assert [(e["executed_in_drive"], e["replayed_in_drives"]) for e in effects] == [
            (1, later),
            (1, later),
            (len(drives), []),
        ]
        assert detail["turn"]["meta"]["drives"] == [[d["drive"], d["started_at_ms"]] for d in drives]

        # reject with a reason, resolved without a token: recorded as the webhook
        wait_b = by_session[f"{run}-b"]
        reject = {"status": "err", "payload": {"code": "rejected", "message": "over the limit"}}
        assert (await client.post(f"/v1/await-events/{wait_b['token']}/resolve", json=reject)).json() == {
            "status": "accepted"
        }
        await until(lambda: _is(client, f"{run}-b", "t2", "completed"))
        detail_b = (
            await client.get("/v1/turn", params={"session_id": f"{run}-b", "turn_id": "t2"}, headers=VIEWER)
        ).json()
        assert detail_b["turn"]["result"]["approved"] is False
        assert detail_b["turn"]["result"]["answer"]["payload"]["message"] == "over the limit"
        assert detail_b["effects"][-1]["resolved_by"] == "webhook"

        # ---- cancel a waiting turn
        body_c = {
            "name": "console-approval",
            "session_id": f"{run}-c",
            "turn_id": "t3",
            "input": {"amount": 1},
        }
        assert (await client.post("/v1/turns", json=body_c, headers=OPS)).status_code == 201
        await until(lambda: _is(client, f"{run}-c", "t3", "waiting"))
        ref_c = {"session_id": f"{run}-c", "turn_id": "t3"}
        assert (await client.post("/v1/turns/cancel", json=ref_c, headers=RESOLVER)).status_code == 403
        cancelled = await client.post("/v1/turns/cancel", json=ref_c, headers=OPS)
        assert cancelled.status_code == 200, cancelled.text
        await until(lambda: _is(client, f"{run}-c", "t3", "cancelled"))

        # ---- a failed turn: resume it; fork it from its first effect
        body_f = {"name": "console-flaky", "session_id": f"{run}-f", "turn_id": "t4", "input": {"run": run}}
        assert (await client.post("/v1/turns", json=body_f, headers=OPS)).status_code == 201
        await until(lambda: _is(client, f"{run}-f", "t4", "failed"))
        failed = (
            await client.get("/v1/turn", params={"session_id": f"{run}-f", "turn_id": "t4"}, headers=VIEWER)
        ).json()
        assert failed["turn"]["error"]["code"] == "turn_step_failed"
        assert "timed out" in failed["turn"]["error"]["message"]
        assert [e["status"] for e in failed["effects"]] == ["completed", "failed"]
        assert [e["executed_in_drive"] for e in failed["effects"]] == [1, 1]
        assert failed["drives"] == [
            {"drive": 1, "started_at_ms": failed["drives"][0]["started_at_ms"], "executed": [1, 2], "replayed": []}
        ]
        fork = {"session_id": f"{run}-f", "turn_id": "t4", "new_turn_id": "t4-fork", "keep": 1}
        forked = await client.post("/v1/turns/fork", json=fork, headers=OPS)
        assert forked.status_code == 201, forked.text
        await until(lambda: _is(client, f"{run}-f", "t4-fork", "completed"))
        resumed = await client.post(
            "/v1/turns/resume", json={"session_id": f"{run}-f", "turn_id": "t4"}, headers=OPS
        )
        assert resumed.status_code == 200, resumed.text
        await until(lambda: _is(client, f"{run}-f", "t4", "completed"))
        resumed_detail = (
            await client.get("/v1/turn", params={"session_id": f"{run}-f", "turn_id": "t4"}, headers=VIEWER)
        ).json()
        # the resumed drive replayed what drive 1 ran and executed the granted retry
        assert [(e["effect_id"], e["executed_in_drive"], e["replayed_in_drives"]) for e in resumed_detail["effects"]] == [
            ("first#1", 1, [2]),
            ("second#1", 1, [2]),
            ("second#1", 2, []),
        ], resumed_detail["effects"]
        forked_detail = (
            await client.get(
                "/v1/turn", params={"session_id": f"{run}-f", "turn_id": "t4-fork"}, headers=VIEWER
            )
        ).json()
        # the fork's kept effect came from t4's journal: no drive of the fork executed it
        assert [(e["effect_id"], e["executed_in_drive"], e["replayed_in_drives"]) for e in forked_detail["effects"]] == [
            ("first#1", None, [1]),
            ("second#1", 1, []),
        ]
        not_failed = await client.post(
            "/v1/turns/resume", json={"session_id": f"{run}-f", "turn_id": "t4"}, headers=OPS
        )
        assert (not_failed.status_code, not_failed.json()["code"]) == (409, "turn_not_resumable")
        missing = await client.get(
            "/v1/turn", params={"session_id": f"{run}-f", "turn_id": "nope"}, headers=VIEWER
        )
        assert (missing.status_code, missing.json()["code"]) == (404, "turn_not_found")

        # ---- safeguards: revoke of a session with no record, retire of a live one
        nobody = await client.post("/v1/sessions/revoke", json={"session_id": f"{run}-typo"}, headers=OPS)
        assert (nobody.status_code, nobody.json()["code"]) == (404, "session_unknown")
        forced = await client.post(
            "/v1/sessions/revoke", json={"session_id": f"{run}-typo", "force": True}, headers=OPS
        )
        assert forced.status_code == 200
        body_l = {
            "name": "console-approval",
            "session_id": f"{run}-l",
            "turn_id": "t5",
            "input": {"amount": 2},
        }
        assert (await client.post("/v1/turns", json=body_l, headers=OPS)).status_code == 201
        await until(lambda: _is(client, f"{run}-l", "t5", "waiting"))
        by_resolver = await client.post(
            "/v1/sessions/retire", json={"session_id": f"{run}-l"}, headers=RESOLVER
        )
        assert (by_resolver.status_code, by_resolver.json()["code"]) == (403, "forbidden")
        live = await client.post("/v1/sessions/retire", json={"session_id": f"{run}-l"}, headers=OPS)
        assert (live.status_code, live.json()["code"]) == (409, "session_live")
        swept = await client.post("/v1/sessions/cancel", json={"session_id": f"{run}-l"}, headers=OPS)
        assert swept.json()["cancelled"] == 1
        await until(lambda: _is(client, f"{run}-l", "t5", "completed"))  # the turn saw Cancelled
        retired = await client.post("/v1/sessions/retire", json={"session_id": f"{run}-l"}, headers=OPS)
        assert retired.status_code == 200 and retired.json()["retired_rows"] > 0
        assert (await host.get_turn(f"{run}-l", "t5")) is not None
        info = await host.get_turn(f"{run}-l", "t5")
        assert info is not None and info.result["answer"] == Resolution.CANCELLED.to_json()


async def _is(client: httpx.AsyncClient, session_id: str, turn_id: str, status: str) -> bool:
    return await turn_status(client, session_id, turn_id) == status


#: Every operator route and the least role it needs (None: resolve/peek, open without tokens).
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/v1/sessions", "viewer"),
    ("GET", "/v1/scopes", "viewer"),
    ("GET", "/v1/effects?scope_key=k", "viewer"),
    ("GET", "/v1/await-events?session_id=s", "viewer"),
    ("GET", "/v1/sessions/s/await-events", "viewer"),
    ("GET", "/v1/turns", "viewer"),
    ("GET", "/v1/turn?session_id=s&turn_id=t", "viewer"),
    ("GET", "/v1/turns/result?session_id=s&turn_id=t", "viewer"),
    ("GET", "/v1/waits", "viewer"),
    ("GET", "/v1/changes", "viewer"),
    ("POST", "/v1/turns", "admin"),
    ("POST", "/v1/turns/cancel", "admin"),
    ("POST", "/v1/turns/resume", "admin"),
    ("POST", "/v1/turns/fork", "admin"),
    ("POST", "/v1/sessions/cancel", "admin"),
    ("POST", "/v1/sessions/revoke", "admin"),
    ("POST", "/v1/sessions/retire", "admin"),
    ("POST", "/v1/sessions/s/cancel", "admin"),
    ("POST", "/v1/sessions/s/revoke", "admin"),
    ("POST", "/v1/sessions/s/retire", "admin"),
]
RANK = {"viewer": 0, "resolver": 1, "admin": 2}


async def role_checks(url: str) -> None:
    """Every route refuses a role below its own with 403 ``forbidden`` and lets its own through
    (the answer may still be a 4xx about the request, never 401/403)."""
    async with serve_in_process(make_app(url, tokens=TOKENS)) as client:
        for method, path, needed in ROUTES:
            for headers, role in ((VIEWER, "viewer"), (RESOLVER, "resolver"), (OPS, "admin")):
                answer = await client.request(
                    method, path, headers=headers, json={} if method == "POST" else None
                )
                if RANK[role] < RANK[needed]:
                    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), (
                        method,
                        path,
                        role,
                    )
                else:
                    assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            stranger = await client.request(method, path, headers={"Authorization": "Bearer nope"})
            assert stranger.status_code == 401


MALFORMED_TOKENS = ["nope", "ehk1.%25%25", "ehk1.bm90IGpzb24", "ehk1." + "A" * 9000]


async def malformed_token_checks(url: str) -> None:
    """A malformed token gets the forged key's 404, body for body, and costs the same work: the
    signature check and a read of the store (counted at the app's await store), so its answer's
    timing tells it apart no better than its body (no timing is asserted: the read is)."""
    import dataclasses

    from effecthost import ExecutionScope, WaitIdentity

    app = make_app(url, tokens=TOKENS)
    async with serve_in_process(app) as client:
        host: DurableEffectHost = app.state.host
        genuine = await host.await_event_key(ExecutionScope.turn("s-malformed", "t"), WaitIdentity.custom("ok"))
        forged = dataclasses.replace(genuine, signature="0" * 64).to_token()
        store = host.await_coordinator._store  # type: ignore[attr-defined]
        reads: list[str] = []
        inspect = store.inspect

        async def counted(key_id: str, identity: Any) -> Any:
            reads.append(key_id)
            return await inspect(key_id, identity)

        store.inspect = counted
        try:
            resolution = {"status": "timeout"}
            expected_resolve = await client.post(f"/v1/await-events/{forged}/resolve", json=resolution)
            expected_peek = await client.get(f"/v1/await-events/{forged}")
            assert expected_resolve.status_code == expected_peek.status_code == 404
            assert expected_resolve.content == expected_peek.content
            assert len(reads) == 2  # the forged key: one read each way
            for token in MALFORMED_TOKENS:
                before = len(reads)
                peeked = await client.get(f"/v1/await-events/{token}")
                resolved = await client.post(f"/v1/await-events/{token}/resolve", json=resolution)
                for answer in (peeked, resolved):
                    assert (answer.status_code, answer.content) == (404, expected_resolve.content), token
                assert len(reads) == before + 2, token  # one store read each, like the forged key
        finally:
            del store.inspect


async def journal_paging_checks(url: str, host: DurableEffectHost, run: str) -> None:
    """/v1/sessions and /v1/effects page by keyset: each page's ``next`` is a cursor for
    ``after=``; the pages together are the whole listing once each, in order, and a session or
    effect written while paging does not shift a page boundary (no repeat, no gap). ``offset``
    still pages; ``after`` with ``offset`` is refused with ``invalid_parameter``."""
    from effecthost import ExecutionScope

    for n in range(5):
        scope = ExecutionScope.turn(f"{run}-s{n}", "t")
        await record_steps(host, scope, 1 if n else 7)
    app = make_app(url, tokens=TOKENS)
    async with serve_in_process(app) as client:

        async def pages(path: str, params: dict[str, Any], field: str, key: str) -> list[str]:
            seen: list[str] = []
            cursor: str | None = None
            while True:
                query = {**params, "limit": 2, **({"after": cursor} if cursor else {})}
                answer = await client.get(path, params=query, headers=VIEWER)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert len(body[field]) <= 2
                seen += [item[key] for item in body[field]]
                if not seen[:1] or body["next"] is None:
                    return seen
                if len(seen) == 2 and path == "/v1/effects":
                    # an effect recorded mid-paging lands after the cursor: no repeat, no gap
                    await record_steps(host, ExecutionScope.turn(f"{run}-s0", "t"), 1, first=7)
                if len(seen) == 2 and path == "/v1/sessions":
                    # a session active mid-paging goes to the front (before the cursor): the
                    # pages after it neither repeat a session (as an offset would) nor skip one
                    await asyncio.sleep(0.002)
                    await record_steps(host, ExecutionScope.turn(f"{run}-new", "t"), 1)
                cursor = body["next"]

        everything = (await client.get("/v1/sessions", params={"limit": 1000}, headers=VIEWER)).json()
        mine = [s["session_id"] for s in everything["sessions"] if s["session_id"].startswith(run)]
        assert everything["next"] is None and len(mine) == 5
        paged = [s for s in await pages("/v1/sessions", {}, "sessions", "session_id") if s.startswith(run)]
        assert paged == mine
        everything = (await client.get("/v1/sessions", params={"limit": 1000}, headers=VIEWER)).json()
        by_offset = (await client.get("/v1/sessions", params={"limit": 2, "offset": 2}, headers=VIEWER)).json()
        assert [s["session_id"] for s in by_offset["sessions"]] == [
            s["session_id"] for s in everything["sessions"][2:4]
        ]

        scope_key = ExecutionScope.turn(f"{run}-s0", "t").journal_key()
        effects = await pages("/v1/effects", {"scope_key": scope_key}, "effects", "effect_id")
        assert effects == [f"step-{i}" for i in range(8)], effects
        rows = (await client.get("/v1/effects", params={"scope_key": scope_key}, headers=VIEWER)).json()
        assert [e["seq"] for e in rows["effects"]] == list(range(1, 9)) and rows["next"] is None

        for path, extra in (("/v1/sessions", {}), ("/v1/effects", {"scope_key": scope_key})):
            first = (await client.get(path, params={**extra, "limit": 1}, headers=VIEWER)).json()
            both = await client.get(
                path, params={**extra, "after": first["next"], "offset": 1}, headers=VIEWER
            )
            assert (both.status_code, both.json()["code"]) == (400, "invalid_parameter")
            forged = await client.get(path, params={**extra, "after": "bm9wZQ"}, headers=VIEWER)
            assert (forged.status_code, forged.json()["code"]) == (400, "invalid_argument")


async def record_steps(host: DurableEffectHost, scope: Any, count: int, first: int = 0) -> None:
    """``count`` completed journal rows ``step-{first}``, ... in ``scope``."""
    from effecthost.testing.conformance._support import record_step

    for i in range(first, first + count):
        await record_step(host, scope, f"step-{i}")
