"""The workflow-scoped controller: a turn's effects inside one Temporal workflow run.

Every journaled effect is one local activity (``effecthost.effect``) whose result is a record
``{"envelope": {"json", "hash"}, "outcome": {"Ok": outcome} | {"Err": error}}``: errors are data,
so the activity itself succeeds and its result lands in the workflow's history either way. After
the activity (its first execution, or Temporal's replay of its marker) the recorded hash is
compared with the current envelope's; a difference is ``temporal_effect_replay_hash_conflict``
with the divergent JSON paths. (Temporal's own non-determinism check covers a changed *sequence*
of commands; this one covers a changed effect under the same command.)

Local activities, not activities: the effect's executor is a closure of the turn's code, so it
runs in the worker process that runs the workflow (the marker is written with the workflow task
that follows it; a worker lost before that runs the effect again, as a lost SQL lease would).

Sleeps are workflow timers (after a record of the sleep's envelope). An await event registers with
its session workflow (an update, through the ``effecthost.session`` local activity) and waits for
the session to signal its terminal; a deadline races a workflow timer, and a timeout or a
cancellation is published through the session workflow, the same first-writer-wins path a resolve
takes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from effecthost import (
    AwaitEvent,
    CancelToken,
    EffectEnvelope,
    EffectHostError,
    ErrorCode,
    LocalExecutor,
    Outcome,
    Resolution,
)
from effecthost.engine import authenticate_await_event_key

from ..kit import EngineController, outcome_of_record, terminal_of, unknown_or_revoked
from . import activities
from .config import (
    EFFECT_ACTIVITY,
    SESSION_ACTIVITY,
    TemporalConfig,
    check_budget,
    session_workflow_id,
    wait_id,
)

#: Effects are at-most-once per attempt: the turn API retries (``retry_on``), not Temporal.
_ONCE = RetryPolicy(maximum_attempts=1)
#: Session calls are idempotent (register, first-writer-wins resolve): retry them.
_SESSION_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=20)


def cancelled() -> EffectHostError:
    return EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")


class TemporalController(EngineController):
    """Performs effects inside one Temporal workflow run: local activities, timers, waits.

    ``settled`` is the workflow's map of wait id -> terminal (filled by the session's signal)."""

    def __init__(
        self,
        config: TemporalConfig,
        settled: dict[str, Any],
        *,
        cancel: CancelToken | None = None,
        parks_in_memo: bool = True,
    ) -> None:
        self._config = config
        self._settled = settled
        self.cancel = cancel or CancelToken()
        self._records: dict[str, asyncio.Future[str]] = {}
        self._seq = 0
        #: Parked waits and sleeps, published in the workflow's memo (``waiting``) for listings:
        #: the thin form a turn started before the turn API reported its waits still writes
        #: (False: the turn engine writes the turn's own ``waiting`` instead; see workflows.py).
        self._parks_in_memo = parks_in_memo
        self._parked: list[dict[str, Any]] = []
        #: Set when a mismatch was found while Temporal replayed the history (changed turn code).
        self.replay_mismatch = False
        #: Set when Temporal itself cancelled the workflow (not effecthost's ``cancel`` signal).
        self.cancel_requested = False
        #: How many effect activities this run scheduled or replayed (tests, benchmarks).
        self.runs = 0

    def start_replay(self) -> None:
        """Nothing to switch: Temporal replays the history's markers without running anything."""

    def _park(self, waiting: dict[str, Any]) -> None:
        """Say in the memo what the turn waits for (a history command, so replays repeat it):
        ``describe`` shows it without a worker. Never a key's token."""
        self._parked.append(waiting)
        if len(self._parked) == 1 and self._parks_in_memo:
            workflow.upsert_memo({"waiting": waiting})

    def _unpark(self, waiting: dict[str, Any]) -> None:
        self._parked.remove(waiting)
        if self._parks_in_memo:
            workflow.upsert_memo({"waiting": self._parked[0] if self._parked else None})

    def _cancelled_by_temporal(self) -> None:
        self.cancel_requested = True
        self.cancel.cancel()

    async def sleep_ms(self, ms: int) -> None:
        """A workflow timer; a cancellation ends the sleep (``turn_cancelled``) at once."""
        waiting = {"kind": "sleep", "until_ms": int(workflow.now().timestamp() * 1000) + max(ms, 1)}
        self._park(waiting)
        try:
            # never 0: a replay must issue the same timer even when its instant has passed
            await workflow.wait_condition(lambda: self.cancel.cancelled, timeout=max(ms, 1) / 1000)
        except TimeoutError:
            return
        except asyncio.CancelledError:
            self._cancelled_by_temporal()
        finally:
            self._unpark(waiting)
        raise cancelled()

    async def session_call(self, key_workflow: str, update: str, body: Any) -> Any:
        try:
            return await workflow.execute_local_activity(
                SESSION_ACTIVITY,
                args=[key_workflow, update, body],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_SESSION_RETRY,
            )
        except asyncio.CancelledError:
            # the workflow was cancelled while it talked to the session: say so, then finish
            self._cancelled_by_temporal()
            return await self.session_call(key_workflow, update, body)

    # -- effects (which step an effect takes: EngineController.execute_effect) -------------------

    async def _activity(self, envelope: EffectEnvelope, executor: LocalExecutor | None) -> str:
        text, digest = envelope.canonical_json(), envelope.stable_hash()
        check_budget(  # before the history
            f"the envelope of {envelope.replay_key!r}", text, self._config.history_budget_bytes
        )
        budget = self._config.record_budget_bytes  # (a local activity's arguments are not recorded)
        self._seq += 1
        handle = f"{workflow.info().run_id}/{self._seq}"
        activities.EXECUTORS[handle] = (envelope, executor)
        self.runs += 1
        try:
            result: str = await workflow.execute_local_activity(
                EFFECT_ACTIVITY,
                args=[handle, text, digest, budget],
                start_to_close_timeout=self._config.effect_timeout,
                retry_policy=_ONCE,
            )
        except asyncio.CancelledError:
            self._cancelled_by_temporal()
            raise cancelled() from None
        finally:
            activities.EXECUTORS.pop(handle, None)
        return result

    async def _record(self, envelope: EffectEnvelope, executor: LocalExecutor | None) -> Outcome:
        key = envelope.replay_key
        pending = self._records.get(key)
        if pending is None:  # a key executed twice in one run answers its first record
            pending = self._records[key] = asyncio.ensure_future(self._activity(envelope, executor))
        raw = await asyncio.shield(pending)
        return outcome_of_record(
            raw,
            envelope,
            envelope_only=executor is None,
            decode_code=ErrorCode.TEMPORAL_EFFECT_REPLAY_DECODE,
            recorded_as="recorded activity",
            conflict_code=ErrorCode.TEMPORAL_EFFECT_REPLAY_HASH_CONFLICT,
            on_conflict=self._replay_conflict,
        )

    def _replay_conflict(self) -> None:
        self.replay_mismatch = self.replay_mismatch or workflow.unsafe.is_replaying()

    async def _await_event(self, command: AwaitEvent, executor: LocalExecutor) -> Resolution:
        key = command.key
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()  # before Temporal is touched
        cancel, deadline = executor.into_await_event_options()
        session, wait = session_workflow_id(key), wait_id(key)
        answer = await self.session_call(
            session,
            "register",
            {"wait": wait, "token": key.to_token(), "workflow_id": workflow.info().workflow_id},
        )
        status = answer.get("status") if isinstance(answer, dict) else None
        if status == "revoked":
            raise unknown_or_revoked()
        if status == "resolved":
            return terminal_of(answer.get("terminal"))

        async def publish(resolution: Resolution) -> Resolution:
            answer = await self.session_call(
                session, "resolve", {"wait": wait, "resolution": resolution.to_json()}
            )
            status = answer.get("status") if isinstance(answer, dict) else None
            if status == "accepted":
                return resolution
            if status == "already_resolved":
                return terminal_of(answer.get("terminal"))
            raise unknown_or_revoked()

        if cancel.cancelled or self.cancel.cancelled:
            return await publish(Resolution.CANCELLED)
        timeout = None
        if deadline is not None:
            timeout = max(0.001, deadline - _monotonic())  # a timer even when it has passed
        waiting = {"kind": "wait", "wait": wait}
        self._park(waiting)
        try:
            await workflow.wait_condition(
                lambda: wait in self._settled or self.cancel.cancelled or cancel.cancelled, timeout=timeout
            )
        except TimeoutError:
            self._unpark(waiting)
            return await publish(Resolution.TIMEOUT)
        except asyncio.CancelledError:
            self._cancelled_by_temporal()
        self._unpark(waiting)
        if wait in self._settled:
            return terminal_of(self._settled[wait])
        cancel.cancel()
        return await publish(Resolution.CANCELLED)


def _monotonic() -> float:
    # the turn API's deadlines are monotonic instants (this module passes through the sandbox):
    # only a timer's duration depends on it, and Temporal does not compare durations on replay
    return time.monotonic()
