"""The turn API on Temporal: the same ``@durable_turn`` code as on SQLite, PostgreSQL and
Restate, one workflow per turn, started, awaited, cancelled and listed through the host."""

from __future__ import annotations

import asyncio

import pytest
from temporal_stack import Stack

from effecthost import AwaitEventKey, EffectHostError, Resolution, ResolveOutcome, TurnStatus
from effecthost.engines.temporal import TemporalEffectHost, open_temporal_host


async def _outstanding(host: TemporalEffectHost, session: str, n: int = 1) -> list[AwaitEventKey]:
    for _ in range(400):
        keys = await host.list_outstanding_await_event_keys(session)
        if len(keys) >= n:
            return keys
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session}")


async def test_a_turn_runs_its_steps_as_local_activities(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    result = await temporal_host.run_turn("three_steps", session_id=session_id, turn_id="t", input={"x": 0})
    assert result == {"result": 6}
    # starting it again is the same workflow: nothing runs twice
    again = await temporal_host.start_turn("three_steps", session_id=session_id, turn_id="t", input={"x": 0})
    assert await again.result(timeout=20) == {"result": 6}
    info = await again.info()
    assert info.status is TurnStatus.COMPLETED and info.name == "three_steps" and info.result == {"result": 6}


async def test_a_turn_parks_on_a_wait_and_a_resolve_finishes_it(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "ada"}
    )
    [key] = await _outstanding(temporal_host, session_id)
    assert key.scope.turn_id == "t" and key.wait.to_json() == {"type": "custom", "key": "approve#1"}
    for _ in range(100):  # parked: the memo says so (no worker asked)
        info = await handle.info()
        if info.status is TurnStatus.WAITING:
            break
        await asyncio.sleep(0.05)
    assert info.status is TurnStatus.WAITING and info.waiting is not None
    assert info.waiting["key"] == key.to_token()  # signed by the host: the memo holds no token
    assert await temporal_host.peek_await_event(key) is None
    outcome = await temporal_host.resolve_await_event(key, Resolution.ok({"yes": True}))
    assert outcome == ResolveOutcome.ACCEPTED
    assert await handle.result(timeout=20) == {"first": 2, "status": "ok", "value": {"yes": True}}
    again = await temporal_host.resolve_await_event(key, Resolution.ok("late"))
    assert again == ResolveOutcome.already_resolved(Resolution.ok({"yes": True}))


async def test_a_tampered_token_is_refused_before_temporal(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "t"}
    )
    [key] = await _outstanding(temporal_host, session_id)
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
            outcome = await temporal_host.resolve_await_event(forged, Resolution.ok("forged"))
            assert outcome == ResolveOutcome.UNKNOWN_OR_REVOKED, altered
            refused += 1
    assert refused > 0
    assert await temporal_host.peek_await_event(key) is None  # nothing reached the session
    await temporal_host.resolve_await_event(key, Resolution.ok("real"))
    assert (await handle.result(timeout=20))["value"] == "real"


async def test_a_wait_deadline_is_a_timer_publishing_timeout(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    result = await temporal_host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "bob", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    assert await temporal_host.list_outstanding_await_event_keys(session_id) == []


async def test_concurrent_waits_in_one_turn(temporal_host: TemporalEffectHost, session_id: str) -> None:
    handle = await temporal_host.start_turn("two_waits", session_id=session_id, turn_id="t")
    keys = await _outstanding(temporal_host, session_id, 2)
    by_name = {k.wait.to_json()["key"]: k for k in keys}
    await temporal_host.resolve_await_event(by_name["b#1"], Resolution.ok("B"))
    await temporal_host.resolve_await_event(by_name["a#1"], Resolution.ok("A"))
    assert await handle.result(timeout=20) == {"a": "A", "b": "B"}


async def test_steps_beside_a_parked_wait_all_run(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "wait_beside_steps", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    [key] = await _outstanding(temporal_host, session_id)
    for _ in range(400):  # every step runs while the wait is still parked
        if f"{session_id} steps done" in temporal_stack.marked():
            break
        await asyncio.sleep(0.025)
    assert f"{session_id} steps done" in temporal_stack.marked()
    assert await temporal_host.peek_await_event(key) is None
    await temporal_host.resolve_await_event(key, Resolution.ok("go"))
    assert await handle.result(timeout=20) == {"answer": "go", "total": 3}


async def test_cancel_ends_a_parked_turn_and_publishes_cancelled(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "c"}
    )
    [key] = await _outstanding(temporal_host, session_id)
    await temporal_host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "turn_cancelled"
    assert await temporal_host.peek_await_event(key) == Resolution.CANCELLED
    assert (await handle.info()).status is TurnStatus.CANCELLED


async def test_cancel_ends_a_turn_sleeping_on_a_timer(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    for _ in range(100):  # past its first step, parked on the hour's timer
        info = await handle.info()
        if info.status is TurnStatus.SLEEPING:
            break
        await asyncio.sleep(0.05)
    assert info.status is TurnStatus.SLEEPING and info.waiting is not None
    assert info.waiting["kind"] == "sleep"
    await temporal_host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "turn_cancelled"


async def test_session_revocation_wakes_a_parked_turn_and_refuses_later_resolves(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "r"}
    )
    [key] = await _outstanding(temporal_host, session_id)
    await temporal_host.revoke_await_events_for_session(session_id)
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "await_event_unknown_or_revoked"
    assert await temporal_host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED


async def test_errors_retries_and_budgets_follow_the_turn_api(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.run_turn("fails", session_id=session_id, turn_id="fails")
    assert caught.value.code == "turn_step_failed" and "boom" in caught.value.message
    assert (
        await temporal_host.run_turn(
            "flaky", session_id=session_id, turn_id="flaky", input={"tag": session_id}
        )
        == 3
    )
    assert temporal_stack.marked().count(f"flaky {session_id}") == 3
    # bounded histories: a step value over the worker's 16 KiB budget is refused
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.run_turn(
            "big_result", session_id=session_id, turn_id="big", input={"size": 20_000}
        )
    assert caught.value.code == "temporal_history_budget_exceeded"
    assert (
        await temporal_host.run_turn(
            "big_result", session_id=session_id, turn_id="small", input={"size": 100}
        )
        == 100
    )
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.run_turn(
            "big_input", session_id=session_id, turn_id="big-in", input={"size": 20_000}
        )
    assert (
        caught.value.code == "temporal_history_budget_exceeded" and "the envelope of" in caught.value.message
    )
    assert caught.value.summary is not None and caught.value.summary["budget"] == 16 * 1024
    # a turn's input over the budget: refused by the host, no workflow started
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.start_turn(
            "big_input", session_id=session_id, turn_id="huge", input={"x": "y" * 20_000}
        )
    assert caught.value.code == "temporal_history_budget_exceeded"
    assert await temporal_host.get_turn(session_id, "huge") is None
    failed = await temporal_host.get_turn(session_id, "big")
    assert failed is not None and failed.status is TurnStatus.FAILED
    assert failed.error is not None and failed.error.code == "temporal_history_budget_exceeded"


async def test_unknown_turn_names_and_turns(temporal_host: TemporalEffectHost, session_id: str) -> None:
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.run_turn("no_such_turn", session_id=session_id, turn_id="t")
    assert caught.value.code == "turn_not_found"
    assert await temporal_host.get_turn(session_id, "never") is None
    with pytest.raises(EffectHostError) as caught:
        await temporal_host.turn_result(session_id, "never")
    assert caught.value.code == "turn_not_found"


async def test_list_turns_of_a_session(temporal_host: TemporalEffectHost, session_id: str) -> None:
    for turn in ("a", "b"):
        await temporal_host.run_turn("three_steps", session_id=session_id, turn_id=turn, input={"x": 1})
    for _ in range(100):  # visibility is eventually consistent
        listed = await temporal_host.list_turns(session_id=session_id)
        if len(listed) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(t.turn_id for t in listed) == ["a", "b"]
    assert {t.status for t in listed} == {TurnStatus.COMPLETED}
    assert await temporal_host.list_turns(session_id=session_id, status="failed") == []


async def test_open_temporal_host_from_a_url(temporal_stack: Stack, session_id: str) -> None:
    url = f"temporal://{temporal_stack.server.address}?task_queue={temporal_stack.config.task_queue}"
    async with await open_temporal_host(url, temporal_stack.config) as host:
        assert await host.run_turn("three_steps", session_id=session_id, turn_id="u", input={"x": 0}) == {
            "result": 6
        }
    with pytest.raises(EffectHostError) as caught:
        await open_temporal_host("http://127.0.0.1:1", temporal_stack.config)
    assert caught.value.code == "host_url_invalid"
