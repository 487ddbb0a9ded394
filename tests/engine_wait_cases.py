"""What a turn on an engine is parked on, in its listings: the same ``waiting`` dict and input as
a SQL host's turn record (kept in Restate's turn state, in Temporal's workflow memo). One set of
cases for both engines (their ``engine`` fixture); where the record is kept and how a crash or a
replay reaches it are the adapter's engine-specific checks."""

from __future__ import annotations

from effecthost import AwaitEventKey, Resolution, TurnStatus
from engine_adapter import EngineUnderTest, marked_line, outstanding, reported


async def test_a_turn_parked_on_a_wait_is_listed_with_its_key_question_and_input(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("approval", session_id=session_id, turn_id="t", input={"user": "ada"})
    [key] = await outstanding(engine, session_id)
    info = await reported(handle, TurnStatus.WAITING)
    assert info.waiting == {
        "kind": "wait",
        "name": "approve",
        "key": key.to_token(),
        "question": {"user": "ada"},
        "deadline_at_ms": None,
    }
    assert info.input == {"user": "ada"}
    await engine.check_parked_record(info, key)
    listed = await engine.current(lambda: host.list_turns(session_id=session_id, status="waiting"))
    assert [(t.turn_id, t.waiting, t.input) for t in listed] == [("t", info.waiting, info.input)]
    # the listed key is the one that resolves the wait
    await host.resolve_await_event(AwaitEventKey.from_token(info.waiting["key"]), Resolution.ok("yes"))
    assert (await handle.result(timeout=20))["value"] == "yes"
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None and done.input == {"user": "ada"}


async def test_a_wait_with_a_deadline_reports_it(engine: EngineUnderTest, session_id: str) -> None:
    handle = await engine.host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "dee", "timeout": 3600}
    )
    info = await reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    deadline = info.waiting["deadline_at_ms"]
    assert isinstance(deadline, int) and info.created_at_ms + 3_600_000 <= deadline
    await engine.host.cancel_turn(session_id, "t")
    assert (await reported(handle, TurnStatus.CANCELLED)).waiting is None


async def test_a_sleeping_turn_is_listed_sleeping_until_its_due_time(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    info = await reported(handle, TurnStatus.SLEEPING)
    assert info.waiting is not None and set(info.waiting) == {"kind", "until_ms"}
    assert info.waiting["kind"] == "sleep"
    assert info.created_at_ms + 3_600_000 <= info.waiting["until_ms"]  # the hour's due time
    sleeping = await engine.current(lambda: host.list_turns(session_id=session_id, status="sleeping"))
    assert [t.turn_id for t in sleeping] == ["t"]
    await host.cancel_turn(session_id, "t")
    assert (await reported(handle, TurnStatus.CANCELLED)).waiting is None


async def test_concurrent_waits_stay_reported_until_the_last_ends_and_replay(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn(
        "staggered_waits", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    keys = {k.wait.to_json()["key"]: k for k in await outstanding(engine, session_id, 2)}
    info = await reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    # the first wait to park is reported, as on the SQL hosts; the other is then parked beside it
    first = info.waiting["name"]
    other = "b" if first == "a" else "a"
    assert info.waiting["key"] == keys[f"{first}#1"].to_token()
    assert info.waiting["question"] == {"which": first}
    await host.resolve_await_event(keys[f"{first}#1"], Resolution.ok(first.upper()))
    await marked_line(engine, f"{session_id} past {first}")  # the turn went on past it
    still = await handle.info()
    assert still.status is TurnStatus.WAITING and still.waiting == info.waiting  # the other is parked
    await engine.between_concurrent_waits()
    await host.resolve_await_event(keys[f"{other}#1"], Resolution.ok(other.upper()))
    assert await handle.result(timeout=30) == {"a": "A", "b": "B"}
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None
    assert engine.marked().count(f"{session_id} past {first}") == 1  # replayed, not run again
    await engine.check_finished_turn_replays(info)
