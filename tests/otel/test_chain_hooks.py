"""The chain's general hooks the OpenTelemetry interceptor is built on: ``drive_turn`` around each
drive (its ``carried`` values stored with the turn and handed to the next drive, in any process),
``observes_effects`` (a host whose interceptors want no effects skips the chain for them), and
``EffectResult.took_over``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from effecthost import Turn, TurnStatus, durable_turn, open_host
from effecthost.interceptors import (
    DriveTurnInput,
    EffectLog,
    EffectResult,
    ExecuteEffectInput,
    Interceptor,
    TurnEnd,
)


class Drives(Interceptor):
    """Sees drives only; stores a value on the first."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, str], str | None]] = []
        self.effects = 0

    def observes_effects(self) -> bool:
        return False

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        self.effects += 1  # never called: the host skips the chain for effects
        return await self.next.execute_effect(input)

    async def drive_turn(self, input: DriveTurnInput) -> TurnEnd:
        self.seen.append((input.attempt, dict(input.carried), input.resumed_from))
        input.carried.setdefault("first_attempt", str(input.attempt))
        end = await self.next.drive_turn(input)
        self.ends.append(end.status)
        return end

    ends: list[TurnStatus | None]


async def test_carried_values_reach_the_next_drive_and_effects_skip_a_chain_that_wants_none(
    backend_url: str,
) -> None:
    state = {"fail": True}

    def flaky() -> str:
        if state["fail"]:
            raise RuntimeError("no")
        return "yes"

    @durable_turn(name="twice")
    async def twice(turn: Turn) -> str:
        return str(await turn.step("flaky", flaky))

    drives = Drives()
    drives.ends = []
    async with await open_host(backend_url, interceptors=[drives]) as host:
        with pytest.raises(Exception, match="no"):
            await host.run_turn(twice, session_id="s", turn_id="t")
        state["fail"] = False
        await host.resume_turn("s", "t")
    async with await open_host(backend_url, interceptors=[drives_again := Drives()]) as other:
        drives_again.ends = []
        assert await other.run_turn(twice, session_id="s", turn_id="t") == "yes"
        info = await other.get_turn("s", "t")
    assert drives.seen == [(1, {}, None)]
    assert drives.ends == [TurnStatus.FAILED]
    assert drives_again.seen == [(2, {"first_attempt": "1"}, None)]  # stored by the first drive
    assert drives_again.ends == [TurnStatus.COMPLETED]
    assert drives.effects == drives_again.effects == 0
    assert info is not None and info.meta["carried"] == {"first_attempt": "1"}


class Effects(Interceptor):
    def __init__(self) -> None:
        self.results: list[EffectResult] = []

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        result = await self.next.execute_effect(input)
        self.results.append(result)
        return result


async def test_an_interceptor_that_overrides_execute_effect_sees_every_effect() -> None:
    @durable_turn(name="one")
    async def one(turn: Turn) -> int:
        return int(await turn.step("n", lambda: 1))

    seen = Effects()
    assert seen.observes_effects() and not Interceptor().observes_effects()
    async with await open_host(f"memory://{uuid.uuid4().hex}", interceptors=[seen]) as host:
        assert await host.run_turn(one, session_id="s", turn_id="t") == 1
    assert [(r.replayed, r.took_over) for r in seen.results] == [(False, False)]


async def test_effect_log_writes_one_structured_line_per_effect(caplog: pytest.LogCaptureFixture) -> None:
    @durable_turn(name="logged")
    async def logged(turn: Turn) -> Any:
        return await turn.step("n", lambda: 1)

    caplog.set_level(logging.DEBUG, logger="effecthost")
    async with await open_host(f"memory://{uuid.uuid4().hex}", interceptors=[EffectLog()]) as host:
        await host.run_turn(logged, session_id="s", turn_id="t")
    [effect] = [r for r in caplog.records if r.name == "effecthost.effects"]
    fields = effect.effecthost  # type: ignore[attr-defined]
    assert fields["replay_key"] == "s:t:0:0:durable_step:n#1"
    assert fields["kind"] == "durable_step" and fields["outcome"] == "executed"
    assert fields["scope"] == '{"version":2,"kind":"turn","session_id":"s","execution_id":"t"}'
    [turn_line] = [r for r in caplog.records if r.name == "effecthost.turns"]
    assert turn_line.effecthost["outcome"] == "completed"  # type: ignore[attr-defined]
