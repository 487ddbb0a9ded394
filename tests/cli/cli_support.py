"""Helpers: park a turn on an await event, and invoke the CLI in-process off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from click.testing import Result
from typer.testing import CliRunner

from effecthost import (
    AwaitEvent,
    AwaitEventKey,
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Outcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
)
from effecthost.cli import app


@dataclass
class ParkedTurn:
    key: AwaitEventKey
    task: asyncio.Task[Outcome]


async def park_turn(
    host: DurableEffectHost, session_id: str, call_id: str = "call-1"
) -> ParkedTurn:
    scope = ExecutionScope.turn(session_id, "turn-1")
    controller = host.scoped(scope).controller
    lineage = RuntimeScope.for_turn(session_id, "turn-1", 0, 0)
    step = EffectEnvelope(
        RuntimeInvocation.effect(lineage, "plan", EffectKind.DURABLE_STEP, "plan"),
        DurableStep("plan", {"n": 1}),
    )
    await controller.execute_effect(step, LocalExecutor.durable_step(lambda value: value))
    key = await host.await_event_key(scope, WaitIdentity.tool_completion(call_id))
    wait = EffectEnvelope(
        RuntimeInvocation.effect(lineage, call_id, EffectKind.AWAIT_EVENT, "wait"), AwaitEvent(key)
    )
    task = asyncio.create_task(controller.execute_effect(wait, LocalExecutor.await_event()))
    while key not in await host.list_outstanding_await_event_keys(session_id):
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    return ParkedTurn(key, task)


async def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run a command in-process; in a worker thread because each command runs its own loop."""
    runner = CliRunner(env=env)
    return await asyncio.to_thread(runner.invoke, app, list(args), catch_exceptions=False)
