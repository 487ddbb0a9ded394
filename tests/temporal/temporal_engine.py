"""Temporal as the shared engine cases see it (tests/engine_adapter.py): its URL and secret, its
listings that lag (visibility; a workflow task's history), where a parked turn's ``waiting`` is
kept (the workflow memo, which never holds the signed token), and a finished turn's history
replaying on this code (the patch marker, then the memo writes in program order)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from temporal_stack import Stack
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from effecthost import AwaitEventKey, TurnInfo
from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, WorkerProcess
from effecthost.engines.temporal.worker import LIBRARY_PASSTHROUGH
from effecthost.engines.temporal.workflows import REGISTRY, WAITING_PATCH, SessionWorkflow, TurnWorkflow
from engine_adapter import EngineUnderTest
from engine_service_cases import EngineTarget

#: The modules the test worker's turns live in (passed through the sandbox, as the worker does).
TURN_MODULES = ("temporal_turns", "engine_turns", "engine_timeline")


def patches(history: WorkflowHistory) -> list[str]:
    """The patch ids a history's markers record (``workflow.patched``)."""
    found = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_patch":
            found.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


async def replay(histories: list[WorkflowHistory], config: TemporalConfig) -> list[Any]:
    """Replay ``histories`` on this code, as a worker would (its sandbox, its registry); each
    history's replay failure (None: it replayed)."""
    import temporal_turns  # the worker's turns, imported here only when a replay needs them

    modules = ("effecthost", *TURN_MODULES, *LIBRARY_PASSTHROUGH)
    runner = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules))
    replayer = Replayer(workflows=[TurnWorkflow, SessionWorkflow], workflow_runner=runner, build_id="waits")
    REGISTRY["replay-waits"] = ({fn.name: fn for fn in temporal_turns.TURNS}, config)  # its task queue
    try:
        failures = []
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            failures.append(result.replay_failure)
        return failures
    finally:
        REGISTRY.pop("replay-waits", None)


async def queue_host(stack: Stack, queue: str) -> TemporalEffectHost:
    config = dataclasses.replace(stack.config, task_queue=queue)
    return await TemporalEffectHost.connect(stack.server.address, config)


async def run_with_replacements(stack: Stack, name: str, session_id: str, input: dict[str, Any]) -> Any:
    """Run a turn on a queue of its own with two workers; a worker that dies is replaced."""
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    make = stack.make_worker
    workers: list[WorkerProcess] = [make(queue), make(queue)]  # type: ignore[operator]
    host = await queue_host(stack, queue)

    async def replace_the_dead() -> None:
        while True:
            for i, worker in enumerate(workers):
                if worker.process is not None and worker.process.poll() is not None:
                    workers[i] = await asyncio.to_thread(make, queue)  # type: ignore[arg-type]
            await asyncio.sleep(0.1)

    supervisor = asyncio.ensure_future(replace_the_dead())
    try:
        return await host.run_turn(name, session_id=session_id, turn_id="t", input=input)
    finally:
        supervisor.cancel()
        for worker in workers:
            worker.stop()


@dataclass
class TemporalEngine(EngineUnderTest):
    stack: Stack = field(kw_only=True)
    host: TemporalEffectHost

    @classmethod
    def of(cls, host: TemporalEffectHost, stack: Stack) -> TemporalEngine:
        config = stack.config
        target = EngineTarget(
            "temporal",
            f"temporal://{stack.server.address}?task_queue={config.task_queue}",
            {"EFFECTHOST_TEMPORAL_SECRET": config.secret.hex()},
        )
        budget, outside = "temporal_history_budget_exceeded", "temporal_effect_host_requires_workflow_scope"
        return cls(
            host, target, config.secret, stack.marks, stack.kills, budget, outside, listings_lag=True, stack=stack
        )

    async def check_parked_record(self, info: TurnInfo, key: AwaitEventKey) -> None:
        # the memo itself never holds the token: the key's unsigned identity, signed again by the host
        described = await self.host.client.get_workflow_handle(info.meta["workflow_id"]).describe()
        memo = await described.memo()
        assert "key" not in memo["waiting"] and key.signature not in json.dumps(memo)
        assert memo["waiting"]["key_identity"] == {"scope": key.scope.to_json(), "wait": key.wait.to_json()}

    async def check_finished_turn_replays(self, info: TurnInfo) -> None:
        history = await self.host.client.get_workflow_handle(info.meta["workflow_id"]).fetch_history()
        assert patches(history) == [WAITING_PATCH]
        assert await replay([history], self.stack.config) == [None]

    async def run_through_a_crash(self, name: str, session_id: str, input: dict[str, Any]) -> Any:
        """Run a turn whose code kills its worker once; the dead worker is replaced."""
        return await run_with_replacements(self.stack, name, session_id, input)
