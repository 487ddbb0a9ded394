"""The two local activities a turn workflow schedules.

- ``effecthost.effect`` runs one effect's executor (a closure of the turn's code, registered by
  the controller in :data:`EXECUTORS` of this very process) and returns effecthost's record of it:
  the canonical envelope, its hash and the outcome or the error, as data.
- ``effecthost.session`` calls an update of a session workflow (starting it if need be).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from effecthost import EffectEnvelope, EffectHostError, ErrorCode, LocalExecutor
from effecthost.engine import dump_effect_record

from .config import SESSION_WORKFLOW, check_budget

#: Executors of effects whose activity is scheduled, by handle (``run id/sequence``).
EXECUTORS: dict[str, tuple[EffectEnvelope, LocalExecutor | None]] = {}


@activity.defn(name="effecthost.effect")
async def run_effect(handle: str, text: str, digest: str, budget: int) -> str:
    entry = EXECUTORS.get(handle)
    body: dict[str, Any]
    envelope, executor = entry if entry is not None else (None, None)
    if envelope is None:
        body = {"Err": EffectHostError(ErrorCode.TURN_FAILED, "the effect's executor is gone").to_json()}
    elif executor is None:
        body = {"Ok": None}  # an envelope-only record (a sleep, a wait)
    else:
        try:
            body = {"Ok": (await executor.execute(envelope)).to_json()}
        except EffectHostError as err:
            body = {"Err": err.to_json()}
        except Exception as exc:  # the record is the effect's end, whatever it raised
            body = {"Err": EffectHostError(ErrorCode.TURN_FAILED, f"{type(exc).__name__}: {exc}").to_json()}
    record = dump_effect_record(text, digest, body)
    what = f"the outcome of {envelope.replay_key!r}" if envelope is not None else "an outcome"
    try:
        check_budget(what, record, budget)
    except EffectHostError as err:  # the oversized outcome never reaches the history
        record = dump_effect_record(text, digest, {"Err": err.to_json()})
    return record


class SessionActivities:
    """``effecthost.session``: the worker's client calls a session workflow's update."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name="effecthost.session")
    async def call(self, workflow_id: str, update: str, body: Any) -> Any:
        handle = await self._client.start_workflow(
            SESSION_WORKFLOW,
            None,
            id=workflow_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return await handle.execute_update(update, body)
