"""Restate as the shared engine cases see it (tests/engine_adapter.py): its URL and secret, and a
crash of the endpoint process where a case leaves room for one."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

from restate_stack import Stack

from effecthost.engines.restate import RestateEffectHost
from engine_adapter import EngineUnderTest
from engine_service_cases import EngineTarget


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
        return cls(
            host, target, stack.config.secret, stack.marks, "restate_journal_budget_exceeded", stack=stack
        )

    async def between_concurrent_waits(self) -> None:
        # a new endpoint process replays the whole journal, its state writes included
        self.stack.endpoint.stop(signal.SIGKILL)
        self.stack.restart_endpoint()
