"""What a turn on Restate is parked on, in its listings: the same ``waiting`` dict and input as a
SQL host's turn record, kept in the turn workflow's state by the turn API (``park``)."""

from __future__ import annotations

import asyncio
import signal

from restate_stack import Stack

from effecthost import AwaitEventKey, Resolution, TurnInfo, TurnStatus
from effecthost.engines.restate import RestateEffectHost, RestateTurnHandle


async def _outstanding(host: RestateEffectHost, session: str, n: int = 1) -> list[AwaitEventKey]:
    for _ in range(400):
        keys = await host.list_outstanding_await_event_keys(session)
        if len(keys) >= n:
            return keys
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session}")


async def _reported(handle: RestateTurnHandle, status: TurnStatus) -> TurnInfo:
    """The turn's info once it reports ``status`` (it parks a moment after its wait registers)."""
    for _ in range(400):
        info = await handle.info()
        if info.status is status:
            return info
        await asyncio.sleep(0.025)
    raise AssertionError(f"the turn never reported {status}: {info}")


async def test_a_turn_parked_on_a_wait_is_listed_with_its_key_question_and_input(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    handle = await restate_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "ada"}
    )
    [key] = await _outstanding(restate_host, session_id)
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting == {
        "kind": "wait",
        "name": "approve",
        "key": key.to_token(),
        "question": {"user": "ada"},
        "deadline_at_ms": None,
    }
    assert info.input == {"user": "ada"}
    [listed] = await restate_host.list_turns(session_id=session_id, status="waiting")
    assert listed.turn_id == "t" and listed.waiting == info.waiting and listed.input == info.input
    # the listed key is the one that resolves the wait
    await restate_host.resolve_await_event(AwaitEventKey.from_token(info.waiting["key"]), Resolution.ok("yes"))
    assert (await handle.result(timeout=20))["value"] == "yes"
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None and done.input == {"user": "ada"}


async def test_a_wait_with_a_deadline_reports_it(restate_host: RestateEffectHost, session_id: str) -> None:
    handle = await restate_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "dee", "timeout": 3600}
    )
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    deadline = info.waiting["deadline_at_ms"]
    assert isinstance(deadline, int) and info.created_at_ms + 3_600_000 <= deadline
    await restate_host.cancel_turn(session_id, "t")
    assert (await _reported(handle, TurnStatus.CANCELLED)).waiting is None


async def test_a_sleeping_turn_is_listed_sleeping_until_its_due_time(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    handle = await restate_host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    info = await _reported(handle, TurnStatus.SLEEPING)
    assert info.waiting is not None and set(info.waiting) == {"kind", "until_ms"}
    assert info.waiting["kind"] == "sleep"
    assert info.created_at_ms + 3_600_000 <= info.waiting["until_ms"]  # the hour's due time
    assert [t.turn_id for t in await restate_host.list_turns(session_id=session_id, status="sleeping")] == ["t"]
    await restate_host.cancel_turn(session_id, "t")
    assert (await _reported(handle, TurnStatus.CANCELLED)).waiting is None


async def _marked(stack: Stack, line: str) -> None:
    for _ in range(400):
        if line in stack.marked():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never marked: {line}")


async def test_concurrent_waits_stay_reported_until_the_last_ends_and_replay(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    handle = await restate_host.start_turn(
        "staggered_waits", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    keys = {k.wait.to_json()["key"]: k for k in await _outstanding(restate_host, session_id, 2)}
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    # the first wait to park is reported, as on the SQL hosts; the other is then parked beside it
    first = info.waiting["name"]
    other = "b" if first == "a" else "a"
    assert info.waiting["key"] == keys[f"{first}#1"].to_token()
    assert info.waiting["question"] == {"which": first}
    await restate_host.resolve_await_event(keys[f"{first}#1"], Resolution.ok(first.upper()))
    await _marked(restate_stack, f"{session_id} past {first}")  # the turn went on past it
    still = await handle.info()
    assert still.status is TurnStatus.WAITING and still.waiting == info.waiting  # the other is parked
    # a new endpoint process replays the whole journal, its state writes included
    restate_stack.endpoint.stop(signal.SIGKILL)
    restate_stack.restart_endpoint()
    await restate_host.resolve_await_event(keys[f"{other}#1"], Resolution.ok(other.upper()))
    assert await handle.result(timeout=30) == {"a": "A", "b": "B"}
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None
    assert restate_stack.marked().count(f"{session_id} past {first}") == 1  # replayed, not run again
