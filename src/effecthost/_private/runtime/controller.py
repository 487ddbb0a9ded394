"""The journaled controller: the replay rules of spec 4.2-4.6, written once over a JournalStore.

No lock or transaction is held while a local executor runs: a claim is one short store call, the
executor runs free, and a fenced finalize records the result. A lease renews every ttl/3 while the
executor runs (the host's :class:`LeaseKeeper`); a lost lease aborts it and reports
``{backend}_effect_replay_lease_lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..core import canonical
from ..core.await_values import AwaitEventKey
from ..core.clock import Clock
from ..core.commands import AwaitEvent, EffectEnvelope, Sleep
from ..core.errors import EffectHostError, ErrorCode, backend_code
from ..core.executor import CancelToken, LocalExecutor, check_effect_arguments
from ..core.identity import ExecutionScope
from ..core.outcomes import AwaitEventOutcome, Outcome, SleepOutcome, outcome_from_json
from ..core.resolutions import Resolution
from ..journal.decisions import RecordError, RecordOutcome, ReleaseAndRaise, decide_after_run, decide_replay
from ..journal.mismatch import mismatch_error
from ..journal.model import (
    Busy,
    Claimed,
    ClaimRequest,
    CorruptRow,
    Decision,
    HashConflict,
    JournalRow,
    LeaseFence,
    LeaseTimings,
    ReplayError,
    ReplayOutcome,
    StrictReplayMiss,
)
from ..journal.store import JournalStore
from .interceptors import EffectResult, ExecuteEffectInput, Interceptor
from .leases import LeaseKeeper

BUSY_POLL_MS = 25
_owner_counter = itertools.count(1)

#: An effect's answer: (outcome, None, replayed) or (None, the error it recorded, replayed).
Settled = tuple[Outcome | None, EffectHostError | None, bool]
AwaitCall = Callable[[AwaitEventKey, CancelToken | None, float | None], Awaitable[Resolution]]


def new_owner_id() -> str:
    return f"pid{os.getpid()}-{next(_owner_counter)}-{time.time_ns() // 1_000_000}"


class DriverContext:
    """What a host shares with the controllers it hands out, and all they may touch of it.

    ``await_event`` is the host's await call (through its interceptor chain), ``chain`` the
    host's interceptors in front of :meth:`JournalController.execute_recorded`, or None when it
    has none (the common case: no input or result objects are built per effect then).
    """

    def __init__(
        self,
        journal: JournalStore,
        clock: Clock,
        lease: LeaseTimings,
        await_event: AwaitCall,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.lease = lease
        self.leases = LeaseKeeper(journal, clock, lease)
        self.owner_id = new_owner_id()
        self.await_event = await_event
        self.chain: Interceptor | None = None
        self.strict = False  # the host's start_replay(): every controller replays strictly
        self.closed = False


def host_closed() -> EffectHostError:
    return EffectHostError(ErrorCode.HOST_CLOSED, "this effect host is closed")


class JournalController:
    """The controller a durable host hands out for one execution scope."""

    def __init__(self, context: DriverContext, scope: ExecutionScope) -> None:
        self._context = context
        self._store: JournalStore = context.journal
        self._scope = scope
        self._scope_key = scope.journal_key()
        self._session_id = scope.session_id
        self._strict = False
        self._cache: dict[str, JournalRow] | None = None
        self._token_seq = itertools.count(1)
        #: Whether the claim of the effect that just ran took over an expired lease: set in the
        #: same synchronous step as that effect's return, read by execute_recorded right after.
        self._took_over = False

    @property
    def supports_durable_effects(self) -> bool:
        return True

    @property
    def execution_scope(self) -> ExecutionScope:
        return self._scope

    def start_replay(self) -> None:
        """From now on a missing journal row is ``{backend}_effect_replay_missing``."""
        self._strict = True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        context = self._context
        if context.closed:  # an attribute test, not a method call: this runs once per effect
            raise host_closed()
        if not (isinstance(envelope, EffectEnvelope) and isinstance(local_executor, LocalExecutor)):
            check_effect_arguments(envelope, local_executor)  # raises the coded error
        if context.chain is not None:
            input = ExecuteEffectInput(self._scope, envelope, local_executor, self._store.backend, self)
            return (await context.chain.execute_effect(input)).unwrap()
        outcome, error, _ = await self._settle(envelope, local_executor)
        if error is not None:
            raise error
        assert outcome is not None
        return outcome

    async def execute_recorded(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> EffectResult:
        """The effect's answer from the journal, or from running it now and recording it."""
        outcome, error, replayed = await self._settle(envelope, local_executor)
        took_over = self._took_over and not replayed
        self._took_over = False
        return EffectResult(outcome, error, replayed, took_over)

    async def has_recorded(self, replay_key: str) -> bool:
        """True when the journal held an outcome or error for ``replay_key`` when this controller
        first read it and it has not been replayed yet (a driver asks before deciding to park)."""
        if self._cache is None:
            await self._preload()
        assert self._cache is not None
        return replay_key in self._cache

    async def _settle(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Settled:
        # A tuple, not an EffectResult: with no interceptors nobody sees it, and building the
        # dataclass per effect cost ~2k instructions (bench/instructions.py).
        replay_key = envelope.replay_key
        if self._cache is None:
            await self._preload()
        assert self._cache is not None
        cached = self._cache.pop(replay_key, None)
        decision = decide_replay(cached, envelope.stable_hash()) if cached is not None else None
        if isinstance(decision, HashConflict) and not decision.recorded_json:
            decision = None  # preloaded rows may omit the envelope: re-read it for the diagnostics
        if decision is None:
            decision = await self._claim(envelope)
            if isinstance(decision, Claimed):
                return await self._run_claimed(envelope, local_executor, decision)
        if isinstance(decision, ReplayOutcome):
            outcome = self._decode_outcome(decision.outcome_json)
            if decision.due_at_ms is not None:
                await self._sleep_until(decision.due_at_ms, local_executor)
            return outcome, None, True
        if isinstance(decision, ReplayError):
            return None, self._decode_error(decision.error_json), True
        if isinstance(decision, StrictReplayMiss):
            raise EffectHostError(
                self._code("missing"),
                f"no recorded runtime effect for scope `{self._scope_key}` and replay key `{replay_key}`",
            )
        if isinstance(decision, HashConflict):
            raise mismatch_error(
                self._code("hash_conflict"),
                decision.recorded_hash,
                decision.recorded_json,
                envelope.stable_hash(),
                envelope.canonical_json(),
            )
        assert isinstance(decision, CorruptRow)
        raise EffectHostError(self._code("corrupt_row"), decision.message)

    def _code(self, suffix: str) -> str:
        return backend_code(self._store.backend, suffix)

    async def _claim(self, envelope: EffectEnvelope) -> Decision:
        """Claim through the store, waiting out live leases: any decision but ``Busy``."""
        context = self._context
        owner = context.owner_id
        request = ClaimRequest.for_envelope(
            envelope,
            self._scope_key,
            self._session_id,
            owner,
            f"{owner}:{next(self._token_seq)}",
            context.lease.ttl_ms,
            self._strict or context.strict,
        )
        clock = context.clock
        while True:
            decision = await self._store.claim(request)
            if isinstance(decision, Busy):
                wait_ms = decision.retry_at_ms - decision.now_ms
                await clock.sleep(min(max(wait_ms, 1), BUSY_POLL_MS) / 1000)
                continue
            return decision

    async def _preload(self) -> None:
        """Completed rows of this scope, read once: replays then cost no store round trip.

        A store may leave ``envelope_json`` empty in these rows (it is only needed to explain a
        conflict, and it is the bulk of each row); the driver then re-reads the row on a conflict.
        """
        rows = await self._store.preload(self._scope_key)
        self._cache = {row.replay_key: row for row in rows}

    async def _sleep_until(self, due_at_ms: int, local_executor: LocalExecutor) -> None:
        clock = self._context.clock
        cancel = local_executor.cancel_token
        while True:
            remaining = due_at_ms - clock.now_ms()
            if remaining <= 0:
                return
            if cancel is not None and cancel.cancelled:
                raise EffectHostError(
                    ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED, "runtime effect sleep was cancelled"
                )
            if cancel is None:
                await clock.sleep(remaining / 1000)
                continue
            sleeper = asyncio.ensure_future(clock.sleep(remaining / 1000))
            waiter = asyncio.ensure_future(cancel.wait())
            try:
                await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waiter.cancel()

    async def _perform(self, envelope: EffectEnvelope, executor: LocalExecutor, claim: Claimed) -> Outcome:
        command = envelope.command
        if isinstance(command, Sleep):
            await self._sleep_until(claim.due_at_ms or 0, executor)
            return SleepOutcome()
        if isinstance(command, AwaitEvent):
            cancel, deadline = executor.into_await_event_options()
            resolution: Resolution = await self._context.await_event(command.key, cancel, deadline)
            return AwaitEventOutcome(resolution)
        return await executor.execute(envelope)

    async def _run_claimed(
        self, envelope: EffectEnvelope, executor: LocalExecutor, claim: Claimed
    ) -> Settled:
        fence = claim.fence
        task = asyncio.current_task()
        assert task is not None
        keeper = self._context.leases
        held = keeper.hold(fence, task)
        outcome: Outcome | None = None
        error: EffectHostError | None = None
        try:
            try:
                outcome = await self._perform(envelope, executor, claim)
            except EffectHostError as exc:
                error = exc
            finally:
                keeper.drop(held)
        except asyncio.CancelledError:
            if held.lost and task.cancelling() > 0:
                task.uncancel()
                raise self._lease_lost() from None
            await self._release_quietly(fence)
            raise
        except BaseException:
            await self._release_quietly(fence)
            raise
        step = decide_after_run(error, held.lost)
        if isinstance(step, RecordOutcome):  # the common case first
            assert outcome is not None
            ok = await self._store.finalize(fence, "completed", self._encode(outcome), None, canonical=True)
            result: Settled = (outcome, None, False)
        elif isinstance(step, RecordError):
            assert error is not None
            ok = await self._store.finalize(fence, "failed", None, self._encode(error), canonical=True)
            result = (None, error, False)
        elif isinstance(step, ReleaseAndRaise):
            assert error is not None
            await self._release_quietly(fence)
            raise error
        else:
            ok = False  # ReportLeaseLost
        if not ok:
            raise self._lease_lost()
        self._took_over = claim.took_over
        return result

    def _encode(self, answer: Outcome | EffectHostError) -> str:
        try:
            return canonical.dumps(answer.to_json())
        except (TypeError, ValueError) as exc:
            raise EffectHostError(self._code("encode"), f"cannot encode the effect result: {exc}") from None

    def _lease_lost(self) -> EffectHostError:
        return EffectHostError(
            self._code("lease_lost"),
            f"runtime effect lease in scope `{self._scope_key}` was lost before finalize",
        )

    async def _release_quietly(self, fence: LeaseFence) -> None:
        # If the release fails the lease still expires on its own and a successor takes over.
        with contextlib.suppress(EffectHostError, asyncio.CancelledError):
            await asyncio.shield(self._store.release(fence))

    def _decode_outcome(self, text: str) -> Outcome:
        try:
            return outcome_from_json(canonical.loads(text))
        except (EffectHostError, ValueError) as exc:
            raise EffectHostError(self._code("decode"), f"cannot decode recorded outcome: {exc}") from None

    def _decode_error(self, text: str) -> EffectHostError:
        try:
            body: Any = canonical.loads(text)
            return EffectHostError.from_json(body)
        except (EffectHostError, ValueError) as exc:
            return EffectHostError(self._code("decode"), f"cannot decode recorded error: {exc}")
