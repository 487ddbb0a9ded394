"""What a turn on Temporal is parked on, in its listings: the same ``waiting`` dict and input as a
SQL host's turn record, from the workflow's memo (the turn API's ``park``, a memo upsert; the
start memo carries the input). And the histories of turns started before that change replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import temporal_turns
from temporal_stack import Stack
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from effecthost import AwaitEventKey, Resolution, TurnInfo, TurnStatus
from effecthost.engines.temporal import TemporalConfig, TemporalEffectHost, TemporalTurnHandle
from effecthost.engines.temporal.worker import LIBRARY_PASSTHROUGH
from effecthost.engines.temporal.workflows import REGISTRY, WAITING_PATCH, SessionWorkflow, TurnWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
#: The secret the recorded histories' keys were signed with (a test secret, nothing else).
HISTORY_SECRET = bytes.fromhex("11" * 32)


async def _outstanding(host: TemporalEffectHost, session: str, n: int = 1) -> list[AwaitEventKey]:
    for _ in range(400):
        keys = await host.list_outstanding_await_event_keys(session)
        if len(keys) >= n:
            return keys
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session}")


async def _reported(handle: TemporalTurnHandle, status: TurnStatus) -> TurnInfo:
    """The turn's info once it reports ``status`` (its memo is written a moment after it parks)."""
    for _ in range(400):
        info = await handle.info()
        if info.status is status:
            return info
        await asyncio.sleep(0.025)
    raise AssertionError(f"the turn never reported {status}: {info}")


async def _marked(stack: Stack, line: str) -> None:
    for _ in range(400):
        if line in stack.marked():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never marked: {line}")


async def _memo(host: TemporalEffectHost, info: TurnInfo) -> dict[str, Any]:
    described = await host.client.get_workflow_handle(info.meta["workflow_id"]).describe()
    return await described.memo()


def _patches(history: WorkflowHistory) -> list[str]:
    """The patch ids a history's markers record (``workflow.patched``)."""
    found = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_patch":
            found.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


async def _replay(histories: list[WorkflowHistory], config: TemporalConfig) -> list[Any]:
    """Replay ``histories`` on this code, as a worker would (its sandbox, its registry); each
    history's replay failure (None: it replayed)."""
    modules = ("effecthost", "temporal_turns", *LIBRARY_PASSTHROUGH)
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


async def test_a_turn_parked_on_a_wait_is_listed_with_its_key_question_and_input(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "ada"}
    )
    [key] = await _outstanding(temporal_host, session_id)
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting == {
        "kind": "wait",
        "name": "approve",
        "key": key.to_token(),
        "question": {"user": "ada"},
        "deadline_at_ms": None,
    }
    assert info.input == {"user": "ada"}
    # the memo itself never holds the token: the key's unsigned identity, signed again by the host
    memo = await _memo(temporal_host, info)
    assert "key" not in memo["waiting"] and key.signature not in json.dumps(memo)
    assert memo["waiting"]["key_identity"] == {"scope": key.scope.to_json(), "wait": key.wait.to_json()}
    for _ in range(400):  # visibility (what list_turns reads) is eventually consistent
        listed = await temporal_host.list_turns(session_id=session_id, status="waiting")
        if listed:
            break
        await asyncio.sleep(0.025)
    assert [(t.turn_id, t.waiting, t.input) for t in listed] == [("t", info.waiting, info.input)]
    # the listed key is the one that resolves the wait
    await temporal_host.resolve_await_event(AwaitEventKey.from_token(info.waiting["key"]), Resolution.ok("yes"))
    assert (await handle.result(timeout=20))["value"] == "yes"
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None and done.input == {"user": "ada"}


async def test_a_wait_with_a_deadline_reports_it(temporal_host: TemporalEffectHost, session_id: str) -> None:
    handle = await temporal_host.start_turn(
        "approval", session_id=session_id, turn_id="t", input={"user": "dee", "timeout": 3600}
    )
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    deadline = info.waiting["deadline_at_ms"]
    assert isinstance(deadline, int) and info.created_at_ms + 3_600_000 <= deadline
    await temporal_host.cancel_turn(session_id, "t")
    assert (await _reported(handle, TurnStatus.CANCELLED)).waiting is None


async def test_a_sleeping_turn_is_listed_sleeping_until_its_due_time(
    temporal_host: TemporalEffectHost, session_id: str
) -> None:
    handle = await temporal_host.start_turn("long_sleep", session_id=session_id, turn_id="t")
    info = await _reported(handle, TurnStatus.SLEEPING)
    assert info.waiting is not None and set(info.waiting) == {"kind", "until_ms"}
    assert info.waiting["kind"] == "sleep"
    assert info.created_at_ms + 3_600_000 <= info.waiting["until_ms"]  # the hour's due time
    await temporal_host.cancel_turn(session_id, "t")
    assert (await _reported(handle, TurnStatus.CANCELLED)).waiting is None


async def test_concurrent_waits_stay_reported_until_the_last_ends_and_replay(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, session_id: str
) -> None:
    handle = await temporal_host.start_turn(
        "staggered_waits", session_id=session_id, turn_id="t", input={"tag": session_id}
    )
    keys = {k.wait.to_json()["key"]: k for k in await _outstanding(temporal_host, session_id, 2)}
    info = await _reported(handle, TurnStatus.WAITING)
    assert info.waiting is not None
    # the first wait to park is reported, as on the SQL hosts; the other is then parked beside it
    first = info.waiting["name"]
    other = "b" if first == "a" else "a"
    assert info.waiting["key"] == keys[f"{first}#1"].to_token()
    assert info.waiting["question"] == {"which": first}
    await temporal_host.resolve_await_event(keys[f"{first}#1"], Resolution.ok(first.upper()))
    await _marked(temporal_stack, f"{session_id} past {first}")  # the turn went on past it
    still = await handle.info()
    assert still.status is TurnStatus.WAITING and still.waiting == info.waiting  # the other is parked
    await temporal_host.resolve_await_event(keys[f"{other}#1"], Resolution.ok(other.upper()))
    assert await handle.result(timeout=20) == {"a": "A", "b": "B"}
    done = await handle.info()
    assert done.status is TurnStatus.COMPLETED and done.waiting is None
    # its history (the patch marker, then the memo writes in program order) replays on this code
    history = await temporal_host.client.get_workflow_handle(info.meta["workflow_id"]).fetch_history()
    assert _patches(history) == [WAITING_PATCH]
    assert await _replay([history], temporal_stack.config) == [None]


@pytest.mark.parametrize(
    "name", ["approval", "approval-timeout", "two-waits", "long-sleep-cancelled"]
)
async def test_histories_of_turns_started_before_the_memo_reported_waits_replay(name: str) -> None:
    """Recorded on the code before this change (a thin memo, written by the controller at its
    own points): a history without the patch marker keeps those writes, so it replays; without
    the patch, ``two-waits`` (two concurrent waits: three memo writes then, two now) does not."""
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    assert _patches(history) == []
    config = TemporalConfig(HISTORY_SECRET, task_queue="replay-waits")
    assert await _replay([history], config) == [None]
