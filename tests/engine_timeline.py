"""The turn whose timeline the engine tests read back from Restate's journal and Temporal's
history, and run on SQLite too: the same code journals the same envelopes on all three (a module
without an endpoint's or worker's setup, so the test process imports it as it is)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from effecthost import (
    EffectHostError,
    ExecutionScope,
    Resolution,
    Turn,
    WaitIdentity,
    durable_turn,
    open_host,
    step,
    tool,
)
from effecthost.store import JournalRow


@step
def double(x: int) -> int:
    return 2 * x


@tool
def forecast(city: str) -> dict[str, Any]:
    return {"city": city, "temp": 21}


def explode(why: str) -> None:
    raise ValueError(why)


@durable_turn
async def timeline(turn: Turn, city: str) -> dict[str, Any]:
    """A step, a tool call, a failing step (its error is journaled and caught), a sleep, a wait."""
    doubled = await double(21)
    weather = await forecast(city)
    try:
        await turn.step("explode", explode, "no luck")
        failed = ""
    except EffectHostError as err:
        failed = err.code
    await turn.sleep(0.01, name="pause")
    answer: Resolution = await turn.wait("approve", question={"city": city})
    return {"doubled": doubled, "weather": weather, "failed": failed, "answer": answer.value}


async def wait_for_gate(gate: str) -> int:
    """Say it started, then run until the test creates the file ``gate``."""
    Path(f"{gate}.started").touch()  # noqa: ASYNC240 - a test's marker file
    while not Path(gate).exists():  # noqa: ASYNC110, ASYNC240 - the gate is a file the test writes
        await asyncio.sleep(0.02)
    return 1


@durable_turn
async def gated(turn: Turn, gate: str) -> int:
    """A step, then a step that runs until the test opens its gate."""
    first = await double(1)
    second: int = await turn.step("gated", wait_for_gate, gate)
    return first + second


@durable_turn
async def early(turn: Turn, gate: str) -> Any:
    """A wait the test resolves while a step before it still runs (before the turn reaches it)."""
    await turn.step("gated", wait_for_gate, gate)
    answer: Resolution = await turn.wait("approve")
    return answer.value


async def run_on_sqlite(
    path: Path, secret: bytes, session_id: str, turn_id: str, city: str
) -> list[JournalRow]:
    """Run :func:`timeline` on a SQLite host signing with the engine's ``secret`` (a wait's
    envelope holds its signed key), resolve its wait as the engine test does, and list what
    the SQLite journal recorded."""
    url = f"sqlite:///{path}"
    host = await open_host(url)  # creates the schema and its own secret
    await host.aclose()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE await_event_meta SET signing_secret = ?", (secret,))
    host = await open_host(url)
    try:
        run = asyncio.ensure_future(
            host.run_turn(timeline, session_id=session_id, turn_id=turn_id, input={"city": city})
        )
        key = await host.await_event_key(
            ExecutionScope.turn(session_id, turn_id), WaitIdentity.custom("approve#1")
        )
        while not run.done() and await host.peek_await_event(key) is None:
            await host.resolve_await_event(key, Resolution.ok({"yes": True}))  # once it is registered
            await asyncio.sleep(0.02)
        await run
        return await host.browser.list_effects(ExecutionScope.turn(session_id, turn_id).journal_key())
    finally:
        await host.aclose()
