"""Cancel racing a resolve, and cancelling a running turn, on every backend.

Whichever of the two writes lands first, the turn ends exactly once and says the same thing to
every reader: ``cancelled`` (and its result raises ``turn_cancelled``), or ``completed`` with the
resolved value; never both, never stuck.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from effecthost import EffectHostError, Resolution, Turn, TurnStatus, Worker, durable_turn, open_host


@durable_turn(name="race_wait")
async def waits(turn: Turn) -> object:
    answer = await turn.wait("approval")
    await turn.step("after", lambda: None)
    return answer.to_json()


async def _until_waiting(host: object, session: str, turn_id: str) -> None:
    for _ in range(1000):
        info = await host.get_turn(session, turn_id)  # type: ignore[attr-defined]
        if info is not None and info.status is TurnStatus.WAITING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{turn_id} never waited")


async def test_cancel_racing_resolve_ends_each_turn_once(backend_url: str) -> None:
    rng = random.Random(7)
    async with await open_host(backend_url) as host, await open_host(backend_url) as other:
        handles = [await host.start_turn(waits, session_id=f"s{i}", turn_id="t") for i in range(12)]
        async with Worker(host, [waits], suspend_after_s=0.01, poll_interval_s=0.05):
            for i in range(12):
                await _until_waiting(other, f"s{i}", "t")

            async def race(i: int) -> None:
                (key,) = await other.list_outstanding_await_event_keys(f"s{i}")
                calls = [other.cancel_turn(f"s{i}", "t"), other.resolve_await_event(key, Resolution.ok(i))]
                rng.shuffle(calls)
                await asyncio.gather(*calls)

            await asyncio.gather(*(race(i) for i in range(12)))
            outcomes = []
            for i, handle in enumerate(handles):
                try:
                    outcomes.append(("completed", await handle.result(timeout=15)))
                except EffectHostError as err:
                    assert err.code == "turn_cancelled"
                    outcomes.append(("cancelled", None))
                info = await other.get_turn(f"s{i}", "t")
                assert info is not None and str(info.status) == outcomes[-1][0]
                if outcomes[-1][0] == "completed":
                    assert outcomes[-1][1] == Resolution.ok(i).to_json()
                assert await other.list_outstanding_await_event_keys(f"s{i}") == []
        # nothing changes afterwards: each turn ended once
        for i, (status, _) in enumerate(outcomes):
            info = await other.get_turn(f"s{i}", "t")
            assert info is not None and str(info.status) == status


@pytest.mark.parametrize("where", ["in_process_wait", "between_steps"])
async def test_cancelling_a_running_turn_stops_it_at_the_next_effect(backend_url: str, where: str) -> None:
    ran: list[str] = []
    gate = asyncio.Event()

    @durable_turn(name=f"race_running_{where}")
    async def running(turn: Turn) -> str:
        await turn.step("first", lambda: ran.append("first"))
        if where == "in_process_wait":
            answer = await turn.wait("approval")  # run_turn never suspends: it parks here
            ran.append(f"wait returned {answer.to_json()['status']}")
        else:
            await gate.wait()
        await turn.step("second", lambda: ran.append("second"))
        return "finished"

    async with await open_host(backend_url) as host, await open_host(backend_url) as other:
        task = asyncio.create_task(host.run_turn(running, session_id="s", turn_id="t"))
        for _ in range(1000):
            info = await other.get_turn("s", "t")
            if ran and info is not None and (where != "in_process_wait" or info.status is TurnStatus.WAITING):
                break
            await asyncio.sleep(0.01)
        info = await other.cancel_turn("s", "t")
        assert info.cancel_requested and info.status is not TurnStatus.CANCELLED  # held: asked to stop
        await asyncio.sleep(0.2)  # the driver learns of it through the turn's wake-up topic
        gate.set()
        with pytest.raises(EffectHostError) as caught:
            await asyncio.wait_for(task, 15)
        assert caught.value.code == "turn_cancelled"
        final = await other.get_turn("s", "t")
        assert final is not None and final.status is TurnStatus.CANCELLED
        assert "second" not in ran
        if where == "in_process_wait":
            assert ran == ["first", "wait returned cancelled"]
