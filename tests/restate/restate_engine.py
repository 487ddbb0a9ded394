"""Restate as the shared engine cases see it (tests/engine_adapter.py): its URL and secret, and a
crash of the endpoint process where a case leaves room for one (the endpoint started again)."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from restate_stack import Stack

from effecthost import EffectHostError
from effecthost.engines.restate import RestateEffectHost
from engine_adapter import EngineUnderTest
from engine_service_cases import EngineTarget


def restart_unless_killed_again(stack: Stack) -> None:
    """Start the endpoint again. Restate retries the invocation as soon as the port opens, so
    the turn's next step may kill the new process before ``start()`` has seen it listen; that
    death is left for the caller's loop to count like any other."""
    try:
        stack.restart_endpoint()
    except EffectHostError:
        process = stack.endpoint.process
        if process is None or process.returncode != -signal.SIGKILL:
            raise


async def drive_with_restarts(
    stack: Stack, host: RestateEffectHost, session: str, turn: str
) -> tuple[object, int]:
    """Wait for the turn's result, starting the endpoint again each time it died; (result, kills)."""
    kills = 0
    deadline = time.monotonic() + 90
    task = asyncio.ensure_future(host.turn_result(session, turn))
    try:
        while not task.done():
            assert time.monotonic() < deadline, "the turn did not finish"
            process = stack.endpoint.process
            if process is not None and process.poll() is not None:
                assert process.returncode == -signal.SIGKILL  # it killed itself
                kills += 1
                restart_unless_killed_again(stack)
            await asyncio.wait({task}, timeout=0.05)
        return task.result(), kills
    finally:
        task.cancel()


@dataclass
class RestateEngine(EngineUnderTest):
    stack: Stack = field(kw_only=True)

    @classmethod
    def of(cls, host: RestateEffectHost, stack: Stack) -> RestateEngine:
        server = stack.server
        target = EngineTarget(
            "restate",
            f"restate://127.0.0.1:{server.ingress_port}?admin=127.0.0.1:{server.admin_port}",
            {"EFFECTHOST_RESTATE_SECRET": stack.config.secret.hex()},
        )
        budget, outside = "restate_journal_budget_exceeded", "restate_effect_host_requires_handler_scope"
        return cls(host, target, stack.config.secret, stack.marks, stack.kills, budget, outside, stack=stack)

    async def between_concurrent_waits(self) -> None:
        # a new endpoint process replays the whole journal, its state writes included
        self.stack.endpoint.stop(signal.SIGKILL)
        self.stack.restart_endpoint()

    async def run_through_a_crash(self, name: str, session_id: str, input: dict[str, Any]) -> Any:
        """Run a turn whose code kills its endpoint once; the endpoint is started again."""
        assert isinstance(self.host, RestateEffectHost)
        await self.host.start_turn(name, session_id=session_id, turn_id="t", input=input)
        result, kills = await drive_with_restarts(self.stack, self.host, session_id, "t")
        assert kills == 1
        return result
