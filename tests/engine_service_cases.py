"""The HTTP service (``effecthost serve``) and the command line on an engine's URL, one set of
cases for every engine: tests/restate/test_restate_service.py and
tests/temporal/test_temporal_service.py run them against the real restate-server and Temporal
dev server, each giving an :class:`EngineTarget`.

The engines' test turns are the same functions on both (``three_steps``, ``approval``,
``fails``), so one expectation serves both.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

ADMIN = "engine-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@dataclass(frozen=True)
class EngineTarget:
    engine: str  # "restate" or "temporal"
    url: str  # restate://... or temporal://...
    env: dict[str, str]  # the engine's secret, as its deployment expects it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def served(target: EngineTarget) -> AsyncIterator[httpx.AsyncClient]:
    """``effecthost serve --url <engine>`` as a real process on 127.0.0.1, stopped by PID."""
    port = _free_port()
    env = {**os.environ, **target.env, "EFFECTHOST_ADMIN_TOKEN": ADMIN}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "effecthost", "serve", "--url", target.url, "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=60) as client:
            while True:  # until it listens; the test timeout bounds this
                if server.returncode is not None:
                    raise AssertionError(f"serve exited {server.returncode}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            yield client
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, err = await asyncio.wait_for(server.communicate(), 20)
        except TimeoutError:
            server.kill()
            _, err = await server.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")


async def _until(probe: Callable[[], Awaitable[Any]], what: str, tries: int = 300) -> Any:
    """``probe()``'s first truthy answer (an engine lists a new turn or wait a moment later)."""
    for _ in range(tries):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}")


async def _waits(client: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    answer = await client.get("/v1/waits", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    waits: list[dict[str, Any]] = answer.json()["waits"]
    return waits


async def _result(client: httpx.AsyncClient, session_id: str, turn_id: str, wait_s: float) -> dict[str, Any]:
    answer = await client.get(
        "/v1/turns/result", params={"session_id": session_id, "turn_id": turn_id, "timeout_s": wait_s}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_service_starts_awaits_lists_and_cancels_turns_on_the_engine(
    engine_target: EngineTarget, session_id: str
) -> None:
    async with served(engine_target) as client:
        ready = (await client.get("/readyz")).json()
        assert ready == {"status": "ready", "backend": engine_target.engine}
        start = {"name": "three_steps", "session_id": session_id, "turn_id": "a", "input": {"x": 2}}
        created = await client.post("/v1/turns", json=start)
        assert created.status_code == 201, created.text
        assert created.json()["created"] is True and created.json()["turn"]["name"] == "three_steps"
        again = await client.post("/v1/turns", json=start)
        assert again.status_code == 200 and again.json()["created"] is False

        done = await _result(client, session_id, "a", 30)
        assert done["done"] is True
        assert (done["turn"]["status"], done["turn"]["result"]) == ("completed", {"result": 8})

        # a turn parked on a wait: in the inbox, not done, resolved through the service
        await client.post(
            "/v1/turns",
            json={"name": "approval", "session_id": session_id, "turn_id": "b", "input": {"user": "ann"}},
        )
        [wait] = await _until(lambda: _waits(client, session_id), "the wait in the inbox")
        assert wait["turn"]["turn_id"] == "b" and wait["status"] == "pending"
        assert (wait["name"], wait["question"]) == ("approve", {"user": "ann"})
        assert wait["turn"]["input"] == {"user": "ann"} and wait["turn"]["status"] == "waiting"

        async def waiting_turns() -> list[dict[str, Any]]:  # (Temporal's visibility lags a moment)
            page = await client.get("/v1/turns", params={"session_id": session_id, "status": "waiting"})
            turns: list[dict[str, Any]] = page.json()["turns"]
            return turns

        [listed_waiting] = await _until(waiting_turns, "the waiting turn listed")
        assert listed_waiting["turn_id"] == "b" and listed_waiting["waiting"]["key"] == wait["token"]
        assert (await _result(client, session_id, "b", 0.2))["done"] is False
        token = wait["token"]
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        refused = await client.post(f"/v1/await-events/{forged}/resolve", json={"status": "ok", "payload": 1})
        assert refused.status_code == 404 and refused.json()["code"] == "await_event_unknown_or_revoked"
        accepted = await client.post(
            f"/v1/await-events/{token}/resolve", json={"status": "ok", "payload": {"ok": True}}
        )
        assert accepted.json() == {"status": "accepted"}
        peeked = (await client.get(f"/v1/await-events/{token}")).json()
        assert peeked == {"status": "resolved", "resolution": {"status": "ok", "payload": {"ok": True}}}
        done = await _result(client, session_id, "b", 30)
        assert done["turn"]["result"] == {"first": 2, "status": "ok", "value": {"ok": True}}
        # who resolved the wait and when, kept by the engine's wait index as the SQL hosts keep it
        timeline = (await client.get("/v1/turn", params={"session_id": session_id, "turn_id": "b"})).json()
        [waited] = [e for e in timeline["effects"] if e["kind"] == "await_event"]
        assert waited["resolved_by"] == "admin" and waited["resolved_at_ms"] >= done["turn"]["created_at_ms"]

        # cancelled while it waits: the result is the coded error
        await client.post(
            "/v1/turns",
            json={"name": "approval", "session_id": session_id, "turn_id": "c", "input": {"user": "bo"}},
        )
        await _until(lambda: _waits(client, session_id), "the second wait")
        cancelled = await client.post("/v1/turns/cancel", json={"session_id": session_id, "turn_id": "c"})
        assert cancelled.status_code == 200, cancelled.text
        done = await _result(client, session_id, "c", 30)
        assert done["done"] is True and done["turn"]["status"] == "cancelled"
        assert done["turn"]["error"]["code"] == "turn_cancelled"
        assert await _waits(client, session_id) == []

        # a failing turn: its step's coded error
        await client.post("/v1/turns", json={"name": "fails", "session_id": session_id, "turn_id": "d"})
        done = await _result(client, session_id, "d", 30)
        assert done["turn"]["status"] == "failed" and done["turn"]["error"]["code"] == "turn_step_failed"

        async def listed() -> list[str]:
            page = (await client.get("/v1/turns", params={"session_id": session_id})).json()
            return sorted(t["turn_id"] for t in page["turns"]) if len(page["turns"]) == 4 else []

        assert await _until(listed, "four turns listed") == ["a", "b", "c", "d"]
        # pages by keyset, newest first, as on SQL
        first = (await client.get("/v1/turns", params={"session_id": session_id, "limit": 3})).json()
        assert [t["turn_id"] for t in first["turns"]] == ["d", "c", "b"] and first["next"]
        rest = (
            await client.get("/v1/turns", params={"session_id": session_id, "limit": 3, "after": first["next"]})
        ).json()
        assert [t["turn_id"] for t in rest["turns"]] == ["a"] and rest["next"] is None
        completed = (
            await client.get("/v1/turns", params={"session_id": session_id, "status": "completed", "order": "oldest"})
        ).json()
        assert [t["turn_id"] for t in completed["turns"]] == ["a", "b"] and completed["next"] is None
        paged = await client.get("/v1/turns", params={"after": "x"})
        assert paged.status_code == 400 and paged.json()["code"] == "invalid_argument"
        detail = (await client.get("/v1/turn", params={"session_id": session_id, "turn_id": "a"})).json()
        assert detail["turn"]["result"] == {"result": 8} and detail["drives"] == []
        # the timeline, read from the engine's journal: each step once, in run order
        effects = detail["effects"]
        assert [(e["seq"], e["effect_id"], e["kind"], e["status"]) for e in effects] == [
            (1, "add#1", "durable_step", "completed"),
            (2, "add#2", "durable_step", "completed"),
            (3, "add#3", "durable_step", "completed"),
        ], effects
        assert [e["outcome"]["value"] for e in effects] == [3, 5, 8]
        failed = (await client.get("/v1/turn", params={"session_id": session_id, "turn_id": "d"})).json()
        assert [e["error"]["code"] for e in failed["effects"] if e["error"]] == ["turn_step_failed"]
        missing = await client.get("/v1/turns/result", params={"session_id": session_id, "turn_id": "zz"})
        assert missing.status_code == 404 and missing.json()["code"] == "turn_not_found"


async def test_the_service_refuses_what_an_engine_cannot_serve_with_a_code(
    engine_target: EngineTarget, session_id: str
) -> None:
    async with served(engine_target) as client:
        refusals = [
            await client.get("/v1/sessions"),
            await client.get("/v1/scopes"),
            await client.get("/v1/effects", params={"scope_key": "x"}),
            await client.post("/v1/turns/resume", json={"session_id": session_id, "turn_id": "a"}),
            await client.post(
                "/v1/turns/fork",
                json={"session_id": session_id, "turn_id": "a", "new_turn_id": "b", "keep": 0},
            ),
            await client.post("/v1/sessions/retire", json={"session_id": session_id}),
        ]
        for answer in refusals:
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "turns_unsupported"
            assert engine_target.engine in answer.json()["message"]
        unknown = await client.post("/v1/sessions/revoke", json={"session_id": session_id})
        assert unknown.status_code == 404 and unknown.json()["code"] == "session_unknown"
        before = (await client.get("/v1/changes")).json()["token"]
        await client.post(
            "/v1/turns",
            json={"name": "approval", "session_id": session_id, "turn_id": "w", "input": {"user": "cy"}},
        )
        await client.post(
            "/v1/turns",
            json={"name": "approval", "session_id": session_id, "turn_id": "w2", "input": {"user": "di"}},
        )

        async def two_waits() -> list[dict[str, Any]]:
            waits = await _waits(client, session_id)
            return waits if len(waits) == 2 else []

        both = await _until(two_waits, "the two waits")
        params: dict[str, Any] = {"session_id": session_id, "limit": 1}
        first = (await client.get("/v1/waits", params=params)).json()
        second = (await client.get("/v1/waits", params={**params, "after": first["next"]})).json()
        assert [w["token"] for w in first["waits"] + second["waits"]] == [w["token"] for w in both]
        assert second["next"] is None

        async def moved() -> bool:
            return bool((await client.get("/v1/changes")).json()["token"] != before)

        await _until(moved, "the change feed moving")
        swept = await client.post("/v1/sessions/cancel", json={"session_id": session_id})
        assert swept.json() == {"session_id": session_id, "status": "cancelled", "cancelled": 2}
        for turn_id in ("w", "w2"):
            done = await _result(client, session_id, turn_id, 30)
            assert done["turn"]["result"] == {"first": 2, "status": "cancelled", "value": None}
            timeline = (await client.get("/v1/turn", params={"session_id": session_id, "turn_id": turn_id})).json()
            [waited] = [e for e in timeline["effects"] if e["kind"] == "await_event"]
            assert waited["resolved_by"] == "admin", waited  # the sweep's sender
        revoked = await client.post("/v1/sessions/revoke", json={"session_id": session_id})
        assert revoked.json() == {"session_id": session_id, "status": "revoked", "pending_waits_revoked": 0}


def _cli(target: EngineTarget, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **target.env, "EFFECTHOST_URL": target.url}
    return subprocess.run(
        [sys.executable, "-m", "effecthost", *args], capture_output=True, text=True, env=env, timeout=90, check=False
    )


async def test_turns_result_awaits_a_turn_on_the_engine_and_through_the_service(
    engine_target: EngineTarget, session_id: str
) -> None:
    started = await asyncio.to_thread(
        _cli, engine_target, "turns", "start", "three_steps", session_id, "a", "--input", '{"x": 5}'
    )
    assert started.returncode == 0, started.stderr
    done = await asyncio.to_thread(_cli, engine_target, "turns", "result", session_id, "a", "--timeout", "60")
    assert (done.returncode, json.loads(done.stdout)) == (0, {"result": 11}), done.stderr
    await asyncio.to_thread(
        _cli, engine_target, "turns", "start", "approval", session_id, "b", "--input", '{"user": "di"}'
    )
    waiting = await asyncio.to_thread(_cli, engine_target, "turns", "result", session_id, "b", "--timeout", "0.5")
    assert waiting.returncode == 1 and waiting.stderr.startswith("turn_result_timeout:"), waiting.stderr
    inbox = await asyncio.to_thread(_cli, engine_target, "waits", "list", "--session", session_id, "--json")
    assert inbox.returncode == 0, inbox.stderr
    [wait] = json.loads(inbox.stdout)["waits"]
    async with served(engine_target) as client:
        remote = ["--server", str(client.base_url), "--token", ADMIN]
        resolved = await asyncio.to_thread(
            _cli, engine_target, "waits", "resolve", wait["token"], "--ok", '"yes"', *remote
        )
        assert resolved.returncode == 0, resolved.stderr
        done = await asyncio.to_thread(_cli, engine_target, "turns", "result", session_id, "b", "--json", *remote)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["turn"]["result"] == {"first": 2, "status": "ok", "value": "yes"}
    await asyncio.to_thread(_cli, engine_target, "turns", "start", "fails", session_id, "c")
    failed = await asyncio.to_thread(_cli, engine_target, "turns", "result", session_id, "c")
    assert failed.returncode == 1 and failed.stderr.startswith("turn_step_failed:"), failed.stderr
    assert "Traceback" not in failed.stderr


async def test_the_page_lists_turns_and_approves_a_wait_on_the_engine(
    engine_target: EngineTarget, session_id: str
) -> None:
    """The operator page over ``serve --url <engine>`` in Debian's Chromium: the turn in the list
    and its timeline, the wait in the inbox with its question, approved with one click."""
    import pytest

    from browser_support import HAVE_CHROMIUM, chromium_page, until

    if not HAVE_CHROMIUM:
        pytest.skip("run `make browser-deps` for chromium")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with served(engine_target) as client:
        await client.post(
            "/v1/turns",
            json={"name": "approval", "session_id": session_id, "turn_id": "p", "input": {"user": "eve"}},
        )
        await _until(lambda: _waits(client, session_id), "the wait")
        async with chromium_page(playwright_api) as watched:
            page = watched.page
            await page.goto(f"{client.base_url}/?token={ADMIN}#/turns")
            row = f"#turns tbody tr[data-session='{session_id}']"
            await until(page, "(sel) => document.querySelector(sel) !== null", row)
            assert await page.locator(row).get_attribute("data-status") == "waiting"
            await page.click(f"{row} a")
            await until(page, "() => document.getElementById('turn-name').textContent.endsWith('/ p')")
            # its timeline, read from the engine's journal: the step, then the wait's deadline
            await until(page, "() => document.querySelectorAll('#timeline li').length >= 2")
            seqs = await page.eval_on_selector_all("#timeline li", "ls => ls.map(l => Number(l.dataset.seq))")
            assert seqs[:2] == [1, 2], seqs
            await page.click("nav a[data-view=inbox]")
            card = page.locator(f".wait-card[data-session='{session_id}']")
            await card.wait_for()
            assert "eve" in await card.locator(".question").inner_text()
            await card.locator("button.approve").click()
            done = await _result(client, session_id, "p", 30)
            assert done["turn"]["result"] == {"first": 2, "status": "ok", "value": {"approved": True}}
            flash = await page.evaluate("() => document.getElementById('flash').textContent")
            assert "turns_unsupported" not in flash and not watched.console_errors, (flash, watched.console_errors)
