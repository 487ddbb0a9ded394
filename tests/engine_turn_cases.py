"""The turn API on an engine: the same ``@durable_turn`` code as on SQLite and PostgreSQL (one
Restate invocation, one Temporal workflow per turn), started, awaited, cancelled and listed
through the host. One set of cases for both engines (their ``engine`` fixture); each engine's
test_*_turns.py adds what is its own."""

from __future__ import annotations

import json
import time

import pytest

from effecthost import AwaitEventKey, EffectHostError, Resolution, ResolveOutcome, TurnInfo, TurnStatus
from effecthost.engines.kit import cursor_of, key_digest
from engine_adapter import EngineUnderTest, marked_line, outstanding, reported


async def test_a_turn_runs_each_step_once(engine: EngineUnderTest, session_id: str) -> None:
    host = engine.host
    before = len(engine.marked())
    result = await host.run_turn("three_steps", session_id=session_id, turn_id="t1", input={"x": 10})
    assert result == {"result": 16}
    assert engine.marked()[before:] == ["add 10 1", "add 11 2", "add 13 3"]
    # starting it again is the same invocation or workflow: nothing runs twice
    again = await host.start_turn("three_steps", session_id=session_id, turn_id="t1", input={"x": 10})
    assert await again.result(timeout=20) == {"result": 16}
    assert len(engine.marked()) == before + 3
    info = await again.info()
    assert (
        info.status is TurnStatus.COMPLETED and info.name == "three_steps" and info.result == {"result": 16}
    )


async def test_a_turn_parks_on_a_wait_and_a_resolve_finishes_it(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("approval", session_id=session_id, turn_id="t", input={"user": "ada"})
    [key] = await outstanding(engine, session_id)
    assert key.scope.turn_id == "t" and key.wait.to_json() == {"type": "custom", "key": "approve#1"}
    info = await reported(handle, TurnStatus.WAITING)  # parked: its record says so
    assert info.waiting is not None
    assert info.waiting["key"] == key.to_token()  # signed by the host
    assert await host.peek_await_event(key) is None
    sent_ms = int(time.time() * 1000)
    accepted = await host.resolve_await_event(key, Resolution.ok({"yes": True}), resolved_by="otto")
    assert accepted == ResolveOutcome.ACCEPTED
    assert await handle.result(timeout=20) == {"first": 2, "status": "ok", "value": {"yes": True}}
    again = await host.resolve_await_event(key, Resolution.ok("late"), resolved_by="eve")
    assert again == ResolveOutcome.already_resolved(Resolution.ok({"yes": True}))
    # who resolved it and when, kept by the session's index: the first writer, not the late one
    stamp = (await host.wait_resolvers(session_id))[key_digest(key)]
    assert stamp["by"] == "otto" and sent_ms <= stamp["at_ms"] <= int(time.time() * 1000)
    with pytest.raises(EffectHostError) as caught:
        await host.resolve_await_event(key, Resolution.ok(1), resolved_by=" ")
    assert caught.value.code == "invalid_argument"
    info = await handle.info()
    assert info.status is TurnStatus.COMPLETED and info.name == "approval" and info.result["first"] == 2


async def test_a_wait_deadline_is_a_durable_timer_publishing_timeout(
    engine: EngineUnderTest, session_id: str
) -> None:
    result = await engine.host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "bob", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    assert await engine.host.list_outstanding_await_event_keys(session_id) == []
    assert await engine.host.wait_resolvers(session_id) == {}  # the turn's own deadline: nobody


async def test_concurrent_waits_in_one_turn(engine: EngineUnderTest, session_id: str) -> None:
    host = engine.host
    handle = await host.start_turn("two_waits", session_id=session_id, turn_id="t")
    keys = await outstanding(engine, session_id, 2)
    by_name = {k.wait.to_json()["key"]: k for k in keys}
    await host.resolve_await_event(by_name["b#1"], Resolution.ok("B"))
    await host.resolve_await_event(by_name["a#1"], Resolution.ok("A"))
    assert await handle.result(timeout=20) == {"a": "A", "b": "B"}


async def test_steps_beside_a_parked_wait_all_run(engine: EngineUnderTest, session_id: str) -> None:
    host = engine.host
    handle = await host.start_turn(
        "wait_beside_steps", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    [key] = await outstanding(engine, session_id)
    await marked_line(engine, f"{session_id} steps done")  # every step runs while the wait is parked
    assert await host.peek_await_event(key) is None
    await host.resolve_await_event(key, Resolution.ok("go"))
    assert await handle.result(timeout=20) == {"answer": "go", "total": 3}


async def test_cancel_ends_a_parked_turn_and_publishes_cancelled(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("approval", session_id=session_id, turn_id="t", input={"user": "c"})
    [key] = await outstanding(engine, session_id)
    await host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "turn_cancelled"
    assert await host.peek_await_event(key) == Resolution.CANCELLED
    assert (await handle.info()).status is TurnStatus.CANCELLED
    # the timeline says how the wait ended, as on SQL (Restate's journal stops before it does:
    # the index answers)
    [wait] = [row for row in await host.list_turn_effects(session_id, "t") if row.effect_kind == "await_event"]
    assert (wait.status, json.loads(wait.outcome_json or "null")) == (
        "completed",
        {"type": "await_event", "resolution": {"status": "cancelled"}},
    )


async def test_cancel_ends_a_turn_sleeping_on_a_durable_timer(
    engine: EngineUnderTest, session_id: str
) -> None:
    handle = await engine.host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    info = await reported(handle, TurnStatus.SLEEPING)  # past its first step, parked on the hour's timer
    assert info.waiting is not None
    assert info.waiting["kind"] == "sleep"
    await engine.host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)  # long before the hour
    assert caught.value.code == "turn_cancelled"


async def test_errors_retries_and_budgets_follow_the_turn_api(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    with pytest.raises(EffectHostError) as caught:
        await host.run_turn("fails", session_id=session_id, turn_id="fails")
    assert caught.value.code == "turn_step_failed" and "boom" in caught.value.message
    assert (
        await host.run_turn("flaky", session_id=session_id, turn_id="flaky", input={"tag": session_id}) == 3
    )
    assert engine.marked().count(f"flaky {session_id}") == 3
    # bounded journals and histories: a step value over the engine's 16 KiB budget is refused
    with pytest.raises(EffectHostError) as caught:
        await host.run_turn("big_result", session_id=session_id, turn_id="big", input={"size": 20_000})
    assert caught.value.code == engine.budget_error
    assert (
        await host.run_turn("big_result", session_id=session_id, turn_id="small", input={"size": 100}) == 100
    )
    with pytest.raises(EffectHostError) as caught:
        await host.run_turn("big_input", session_id=session_id, turn_id="big-in", input={"size": 20_000})
    assert caught.value.code == engine.budget_error and "the envelope of" in caught.value.message
    assert caught.value.summary is not None and caught.value.summary["budget"] == 16 * 1024
    failed = await host.get_turn(session_id, "big")
    assert failed is not None and failed.status is TurnStatus.FAILED
    assert failed.error is not None and failed.error.code == engine.budget_error


async def test_unknown_turn_names_and_turns(engine: EngineUnderTest, session_id: str) -> None:
    host = engine.host
    with pytest.raises(EffectHostError) as caught:
        await host.run_turn("no_such_turn", session_id=session_id, turn_id="t")
    assert caught.value.code == "turn_not_found"
    assert await host.get_turn(session_id, "never") is None
    with pytest.raises(EffectHostError) as caught:
        await host.turn_result(session_id, "never")
    assert caught.value.code == "turn_not_found"


async def test_list_turns_of_a_session(engine: EngineUnderTest, session_id: str) -> None:
    host = engine.host
    for turn in ("a", "b"):
        await host.run_turn("three_steps", session_id=session_id, turn_id=turn, input={"x": 1})
    listed = await engine.current(
        lambda: host.list_turns(session_id=session_id), lambda found: len(found) == 2
    )
    assert sorted(t.turn_id for t in listed) == ["a", "b"]
    assert {t.status for t in listed} == {TurnStatus.COMPLETED}
    assert await host.list_turns(session_id=session_id, status="failed") == []


async def test_turns_are_filtered_and_paged_by_keyset_as_on_the_sql_hosts(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    for turn in ("a", "b", "c"):
        await host.run_turn("three_steps", session_id=session_id, turn_id=turn, input={"x": 1})
    with pytest.raises(EffectHostError):
        await host.run_turn("fails", session_id=session_id, turn_id="d")

    def all_ended(found: list[TurnInfo]) -> bool:
        return len(found) == 4 and all(t.status in (TurnStatus.COMPLETED, TurnStatus.FAILED) for t in found)

    everything = await engine.current(lambda: host.query_turns(session_id=session_id), all_ended)
    assert [t.turn_id for t in everything] == ["d", "c", "b", "a"]  # newest first

    def ids(found: list[TurnInfo]) -> list[str]:
        return [t.turn_id for t in found]

    first = await host.query_turns(session_id=session_id, limit=2)
    assert ids(first) == ["d", "c"]
    second = await host.query_turns(session_id=session_id, limit=2, after=cursor_of(first[-1]))
    assert ids(second) == ["b", "a"]
    assert await host.query_turns(session_id=session_id, limit=2, after=cursor_of(second[-1])) == []
    oldest = await host.query_turns(session_id=session_id, newest_first=False, limit=3)
    assert ids(oldest) == ["a", "b", "c"]
    assert ids(await host.query_turns(session_id=session_id, newest_first=False, after=cursor_of(oldest[-1]))) == [
        "d"
    ]

    completed = await host.query_turns(session_id=session_id, status="completed")
    assert ids(completed) == ["c", "b", "a"] and {t.result["result"] for t in completed} == {7}
    [failed] = await host.query_turns(session_id=session_id, status=TurnStatus.FAILED)
    assert failed.turn_id == "d" and failed.error is not None and failed.error.code == "turn_step_failed"
    assert ids(await host.query_turns(session_id=session_id, name="fails")) == ["d"]
    assert ids(await host.query_turns(session_id=session_id, search="b")) == ["b"]
    assert ids(await host.query_turns(search=session_id, newest_first=False)) == ["a", "b", "c", "d"]
    c = everything[1]
    assert ids(await host.query_turns(session_id=session_id, since_ms=c.created_at_ms)) == ["d", "c"]
    assert set(ids(await host.query_turns(session_id=session_id, until_ms=c.created_at_ms))) <= {"a", "b"}
    assert await host.query_turns(session_id=session_id, status="cancelled") == []
    assert ids(await host.list_turns(session_id=session_id, limit=2, offset=1)) == ["b", "c"]
    for bad in ({"status": "nonsense"}, {"since_ms": "yesterday"}, {"session_id": "a\x00b"}):
        with pytest.raises(EffectHostError) as caught:
            await host.query_turns(**bad)  # type: ignore[arg-type]
        assert caught.value.code == "invalid_argument", bad
    # ids with quotes go into the engine's query as text, never as its syntax
    assert await host.query_turns(session_id="x' OR '1'='1", search="y\\' OR 1=1 --") == []
    # the inbox and the change feed read the live turns only (none here) and a count of turns
    assert await host.live_turns(session_id=session_id) == []
    assert await host.count_turns() >= 4


async def test_a_tampered_token_is_refused_before_the_engine(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("approval", session_id=session_id, turn_id="t", input={"user": "t"})
    [key] = await outstanding(engine, session_id)
    token = key.to_token()
    refused = 0
    for i in range(len(token)):
        for swap in ("A", "z"):
            if token[i] == swap:
                continue
            altered = token[:i] + swap + token[i + 1 :]
            try:
                forged = AwaitEventKey.from_token(altered)
            except EffectHostError:
                refused += 1
                continue
            outcome = await host.resolve_await_event(forged, Resolution.ok("forged"))
            assert outcome == ResolveOutcome.UNKNOWN_OR_REVOKED, altered
            refused += 1
    assert refused > 0
    assert await host.peek_await_event(key) is None  # nothing reached the session
    await host.resolve_await_event(key, Resolution.ok("real"))
    assert (await handle.result(timeout=20))["value"] == "real"


async def test_session_revocation_wakes_a_parked_turn_and_refuses_later_resolves(
    engine: EngineUnderTest, session_id: str
) -> None:
    host = engine.host
    handle = await host.start_turn("approval", session_id=session_id, turn_id="t", input={"user": "r"})
    [key] = await outstanding(engine, session_id)
    await host.revoke_await_events_for_session(session_id)
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "await_event_unknown_or_revoked"
    assert await host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED
