"""``effecthost.engine``: a turn function runs unchanged on an engine that journals its effects
itself. Here the "engine" is a dict of recorded outcomes in front of an inline controller, the
smallest thing that replays; the Restate engine (tests/restate) is the real one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from effecthost import (
    AwaitEvent,
    AwaitEventOutcome,
    Clock,
    EffectEnvelope,
    EffectHostError,
    ExecutionScope,
    InlineEffectHost,
    LocalExecutor,
    ManualClock,
    Outcome,
    Resolution,
    Turn,
    durable_turn,
)
from effecthost.engine import ParkingEngine, TurnEngine, canonical_dumps, outcome_from_json, run_engine_turn


class DictController:
    """Journals each outcome by replay key; a replayed key answers its record."""

    def __init__(self) -> None:
        self.inner = InlineEffectHost().scoped(ExecutionScope.turn("s", "t")).controller
        self.records: dict[str, str] = {}
        self.ran: list[str] = []
        #: A wait's resolution by effect id, set by the test.
        self.answers: dict[str, asyncio.Future[Resolution]] = {}
        #: The effect ids of waits as they are reached.
        self.asked: asyncio.Queue[str] = asyncio.Queue()
        #: The effect ids of the other effects as they ran.
        self.executed: asyncio.Queue[str] = asyncio.Queue()

    @property
    def supports_durable_effects(self) -> bool:
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        if isinstance(envelope.command, AwaitEvent):  # answered by the test, when it says so
            answer = self.answers.setdefault(envelope.effect_id, asyncio.get_running_loop().create_future())
            self.asked.put_nowait(envelope.effect_id)
            return AwaitEventOutcome(await answer)
        recorded = self.records.get(envelope.replay_key)
        if recorded is None:
            outcome = await self.inner.execute_effect(envelope, local_executor)
            self.ran.append(envelope.replay_key)
            self.executed.put_nowait(envelope.effect_id)
            self.records[envelope.replay_key] = canonical_dumps(outcome.to_json())
            return outcome
        import json

        return outcome_from_json(json.loads(recorded))


class DictEngine:
    def __init__(self, budget: int = 1 << 20) -> None:
        self._controller = DictController()
        self._clock = ManualClock(1_000)
        self._budget = budget
        self.slept_until: list[int] = []

    @property
    def controller(self) -> DictController:
        return self._controller

    @property
    def secret(self) -> bytes:
        return b"k" * 32

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def max_payload_bytes(self) -> int:
        return self._budget

    async def sleep_until(self, due_ms: int) -> None:
        self.slept_until.append(due_ms)


@durable_turn
async def seam_turn(turn: Turn, x: int) -> dict[str, Any]:
    a = await turn.step("double", lambda v: v * 2, x)
    await turn.sleep(5)
    b = await turn.step("inc", lambda v: v + 1, a)
    return {"a": a, "b": b, "key": turn.await_event_key("approve").wait.to_json()}


async def test_a_turn_runs_on_an_engine_and_replays_from_its_records() -> None:
    engine = DictEngine()
    assert isinstance(engine, TurnEngine)
    first = await run_engine_turn(seam_turn, engine, session_id="s", turn_id="t", input={"x": 4})
    assert first == {"a": 8, "b": 9, "key": {"type": "custom", "key": "approve#1"}}
    assert engine.slept_until == [1_000 + 5_000]  # the due time, journaled, then the engine's timer
    ran = list(engine.controller.ran)
    assert ran == [
        "s:t:0:0:durable_step:double#1",
        "s:t:0:0:durable_step:sleep#1",
        "s:t:0:0:durable_step:inc#1",
    ]
    again = await run_engine_turn(seam_turn, engine, session_id="s", turn_id="t", input={"x": 4})
    assert again == first and engine.controller.ran == ran  # replayed: nothing ran twice
    assert engine.slept_until == [6_000, 6_000]  # the replay issues the same timer


async def test_the_engine_budget_bounds_the_result_and_only_turns_run() -> None:
    @durable_turn
    async def big(turn: Turn) -> str:
        return "x" * 5000

    with pytest.raises(EffectHostError) as caught:
        await run_engine_turn(big, DictEngine(budget=1024), session_id="s", turn_id="t")
    assert caught.value.code == "turn_payload_too_large"
    with pytest.raises(EffectHostError) as caught:
        await run_engine_turn(lambda turn: None, DictEngine(), session_id="s", turn_id="t")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_argument"


@pytest.mark.parametrize("url", ["restate://127.0.0.1:9", "restate+https://h:1", "temporal://127.0.0.1:9"])
async def test_open_host_points_an_engine_url_to_open_engine_host(url: str) -> None:
    from effecthost import open_host

    with pytest.raises(EffectHostError) as caught:
        await open_host(url)
    assert caught.value.code == "host_url_unsupported"
    assert "effecthost.engines.open_engine_host" in caught.value.message


@pytest.mark.parametrize("url", ["sqlite:///x.db", "memory://m", "restate", 7])
async def test_open_engine_host_refuses_what_is_not_an_engine_url(url: Any) -> None:
    from effecthost.engines import engine_of_url, open_engine_host

    assert engine_of_url(url) is None
    with pytest.raises(EffectHostError) as caught:
        await open_engine_host(url)
    assert caught.value.code == "host_url_unsupported"


async def test_open_engine_host_opens_the_engines_deployment_side(monkeypatch: pytest.MonkeyPatch) -> None:
    from effecthost.engines import open_engine_host
    from effecthost.engines.restate import RestateConfig, RestateEffectHost

    monkeypatch.setenv("EFFECTHOST_RESTATE_SECRET", RestateConfig.new_secret())
    async with await open_engine_host("restate://127.0.0.1:9?admin=127.0.0.1:9") as host:
        assert isinstance(host, RestateEffectHost) and host.engine == "restate"

class ParkingDictEngine(DictEngine):
    """Also told what the turn is parked on: every report, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.parked: list[dict[str, Any] | None] = []

    async def park(self, waiting: dict[str, Any] | None) -> None:
        self.parked.append(waiting)


@durable_turn
async def parking_turn(turn: Turn) -> dict[str, Any]:
    await turn.sleep(5)

    async def approve() -> Any:
        answer = await turn.wait("approve", question={"q": 1}, timeout=60)
        await turn.step("after", lambda: "went on")  # the turn went on past this wait
        return answer.value

    a, b = await asyncio.gather(approve(), turn.wait("other"))
    return {"a": a, "b": b.value}


async def test_a_parking_engine_is_told_what_the_turn_waits_for_until_the_last_wait_ends() -> None:
    engine = ParkingDictEngine()
    assert isinstance(engine, ParkingEngine) and not isinstance(DictEngine(), ParkingEngine)
    key = mint_token(engine, "approve#1")
    task = asyncio.ensure_future(run_engine_turn(parking_turn, engine, session_id="s", turn_id="t"))
    assert {await engine.controller.asked.get(), await engine.controller.asked.get()} == {"approve#1", "other#1"}
    # the sleep parked and unparked (the engine timer, on a clock that stays at 1 s); the first
    # wait parks, the second (concurrent) adds nothing
    assert engine.parked == [
        {"kind": "sleep", "until_ms": 6_000},
        None,
        {"kind": "wait", "name": "approve", "key": key, "question": {"q": 1}, "deadline_at_ms": 61_000},
    ]
    engine.controller.answers["approve#1"].set_result(Resolution.ok("A"))
    while await engine.controller.executed.get() != "after#1":  # past the first wait's end
        pass
    assert len(engine.parked) == 3  # the other wait is still parked: still reported
    engine.controller.answers["other#1"].set_result(Resolution.ok("B"))
    assert await task == {"a": "A", "b": "B"}
    assert engine.parked[3:] == [None]


async def test_a_failed_wait_unparks_and_an_engine_without_park_is_never_told() -> None:
    engine = ParkingDictEngine()

    @durable_turn
    async def refused(turn: Turn) -> str:
        try:
            await turn.wait("w")
        except EffectHostError as err:
            return err.code
        return "resolved"

    task = asyncio.ensure_future(run_engine_turn(refused, engine, session_id="s", turn_id="t"))
    assert await engine.controller.asked.get() == "w#1"
    engine.controller.answers["w#1"].set_exception(EffectHostError("await_event_unknown_or_revoked", "gone"))
    assert await task == "await_event_unknown_or_revoked"
    assert [p is None for p in engine.parked] == [False, True]
    plain = DictEngine()  # no park method: the turn runs the same, nothing is reported
    assert await run_engine_turn(seam_turn, plain, session_id="s", turn_id="t", input={"x": 1}) == {
        "a": 2,
        "b": 3,
        "key": {"type": "custom", "key": "approve#1"},
    }


def mint_token(engine: DictEngine, effect_id: str) -> str:
    from effecthost import WaitIdentity
    from effecthost.engine import mint_await_event_key

    key = mint_await_event_key(engine.secret, ExecutionScope.turn("s", "t"), WaitIdentity.custom(effect_id))
    return key.to_token()
