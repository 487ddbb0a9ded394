"""The turn API on Restate: the same ``@durable_turn`` code as on SQLite and PostgreSQL, one
Restate invocation per turn, started, awaited, cancelled and listed through the host."""

from __future__ import annotations

import asyncio

import pytest
from restate_stack import Stack

from effecthost import EffectHostError, Resolution, ResolveOutcome, TurnStatus
from effecthost.engines.restate import RestateEffectHost, open_restate_host


async def _outstanding(host: RestateEffectHost, session: str, n: int = 1) -> list:  # type: ignore[type-arg]
    for _ in range(400):
        keys = await host.list_outstanding_await_event_keys(session)
        if len(keys) >= n:
            return keys
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session}")


async def test_a_turn_parks_on_a_wait_and_a_resolve_finishes_it(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    handle = await restate_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "ada"}
    )
    [key] = await _outstanding(restate_host, session_id)
    assert key.scope.turn_id == "t" and key.wait.to_json() == {"type": "custom", "key": "approve#1"}
    assert await restate_host.peek_await_event(key) is None
    assert (
        await restate_host.resolve_await_event(key, Resolution.ok({"yes": True})) == ResolveOutcome.ACCEPTED
    )
    assert await handle.result(timeout=20) == {"first": 2, "status": "ok", "value": {"yes": True}}
    again = await restate_host.resolve_await_event(key, Resolution.ok("late"))
    assert again == ResolveOutcome.already_resolved(Resolution.ok({"yes": True}))
    info = await handle.info()
    assert info.status is TurnStatus.COMPLETED and info.name == "approval" and info.result["first"] == 2


async def test_a_wait_deadline_is_a_durable_timer_publishing_timeout(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    result = await restate_host.run_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "bob", "timeout": 0.3}
    )
    assert result["status"] == "timeout"
    [] = await restate_host.list_outstanding_await_event_keys(session_id)


async def test_concurrent_waits_in_one_turn(restate_host: RestateEffectHost, session_id: str) -> None:
    handle = await restate_host.start_turn("two_waits", session_id=session_id, turn_id="t")
    keys = await _outstanding(restate_host, session_id, 2)
    by_name = {k.wait.to_json()["key"]: k for k in keys}
    await restate_host.resolve_await_event(by_name["b#1"], Resolution.ok("B"))
    await restate_host.resolve_await_event(by_name["a#1"], Resolution.ok("A"))
    assert await handle.result(timeout=20) == {"a": "A", "b": "B"}


async def test_steps_beside_a_parked_wait_all_run(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    handle = await restate_host.start_turn(
        "wait_beside_steps", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    [key] = await _outstanding(restate_host, session_id)
    for _ in range(400):  # every step runs while the wait is still parked
        if f"{session_id} steps done" in restate_stack.marked():
            break
        await asyncio.sleep(0.025)
    assert f"{session_id} steps done" in restate_stack.marked()
    await restate_host.resolve_await_event(key, Resolution.ok("go"))
    assert await handle.result(timeout=20) == {"answer": "go", "total": 3}


async def test_cancel_ends_a_parked_turn_and_publishes_cancelled(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    handle = await restate_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "c"}
    )
    [key] = await _outstanding(restate_host, session_id)
    await restate_host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)
    assert caught.value.code == "turn_cancelled"
    assert await restate_host.peek_await_event(key) == Resolution.CANCELLED
    info = await handle.info()
    assert info.status is TurnStatus.CANCELLED


async def test_cancel_ends_a_turn_sleeping_on_a_durable_timer(
    restate_host: RestateEffectHost, session_id: str
) -> None:
    handle = await restate_host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    await asyncio.sleep(1.0)  # past its first step, parked on the hour's timer
    await restate_host.cancel_turn(session_id, "t")
    with pytest.raises(EffectHostError) as caught:
        await handle.result(timeout=20)  # long before the hour
    assert caught.value.code == "turn_cancelled"


async def test_errors_retries_and_budgets_follow_the_turn_api(
    restate_host: RestateEffectHost, restate_stack: Stack, session_id: str
) -> None:
    with pytest.raises(EffectHostError) as caught:
        await restate_host.run_turn("fails", session_id=session_id, turn_id="fails")
    assert caught.value.code == "turn_step_failed" and "boom" in caught.value.message
    assert (
        await restate_host.run_turn(
            "flaky", session_id=session_id, turn_id="flaky", input={"tag": session_id}
        )
        == 3
    )
    assert restate_stack.marked().count(f"flaky {session_id}") == 3
    # bounded journals: a step value over the endpoint's 16 KiB journal budget is refused
    with pytest.raises(EffectHostError) as caught:
        await restate_host.run_turn(
            "big_result", session_id=session_id, turn_id="big", input={"size": 20_000}
        )
    assert caught.value.code == "restate_journal_budget_exceeded"
    assert (
        await restate_host.run_turn("big_result", session_id=session_id, turn_id="small", input={"size": 100})
        == 100
    )
    with pytest.raises(EffectHostError) as caught:
        await restate_host.run_turn(
            "big_input", session_id=session_id, turn_id="big-in", input={"size": 20_000}
        )
    assert (
        caught.value.code == "restate_journal_budget_exceeded" and "the envelope of" in caught.value.message
    )
    assert caught.value.summary is not None and caught.value.summary["budget"] == 16 * 1024
    failed = await restate_host.get_turn(session_id, "big")
    assert failed is not None and failed.status is TurnStatus.FAILED
    assert failed.error is not None and failed.error.code == "restate_journal_budget_exceeded"


async def test_open_restate_host_from_a_url(restate_stack: Stack, session_id: str) -> None:
    server = restate_stack.server
    url = f"restate://127.0.0.1:{server.ingress_port}?admin=127.0.0.1:{server.admin_port}"
    async with open_restate_host(url, restate_stack.config) as host:
        assert await host.run_turn("three_steps", session_id=session_id, turn_id="u", input={"x": 0}) == {
            "result": 6
        }
    with pytest.raises(EffectHostError) as caught:
        open_restate_host("http://127.0.0.1:1", restate_stack.config)
    assert caught.value.code == "host_url_invalid"


async def test_unknown_turn_names_and_turns(restate_host: RestateEffectHost, session_id: str) -> None:
    with pytest.raises(EffectHostError) as caught:
        await restate_host.run_turn("no_such_turn", session_id=session_id, turn_id="t")
    assert caught.value.code == "turn_not_found"
    assert await restate_host.get_turn(session_id, "never") is None


async def test_list_turns_of_a_session(restate_host: RestateEffectHost, session_id: str) -> None:
    for turn in ("a", "b"):
        await restate_host.run_turn("three_steps", session_id=session_id, turn_id=turn, input={"x": 1})
    listed = await restate_host.list_turns(session_id=session_id)
    assert sorted(t.turn_id for t in listed) == ["a", "b"]
    assert {t.status for t in listed} == {TurnStatus.COMPLETED}
    assert await restate_host.list_turns(session_id=session_id, status="failed") == []
