"""Small builders shared by the SQLite tests."""

from __future__ import annotations

from typing import Any

from effecthost import (
    DurableStep,
    EffectEnvelope,
    EffectKind,
    LocalExecutor,
    RuntimeInvocation,
    RuntimeScope,
)


def step(session: str, key: str, value: Any = None) -> EffectEnvelope:
    invocation = RuntimeInvocation.effect(RuntimeScope(session), key, EffectKind.DURABLE_STEP, key)
    return EffectEnvelope(invocation, DurableStep("step", {"key": key, "value": value}))


def counting(calls: list[str]) -> LocalExecutor:
    def run(value: Any) -> Any:
        calls.append(value["key"])
        return {"ran": value["key"]}

    return LocalExecutor.durable_step(run)
