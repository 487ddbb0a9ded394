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
from typing import TYPE_CHECKING, Any

from ..core import canonical
from ..core.commands import AwaitEvent, EffectEnvelope, Sleep
from ..core.errors import EffectHostError, ErrorCode, backend_code
from ..core.executor import LocalExecutor, check_effect_arguments
from ..core.identity import ExecutionScope
from ..core.outcomes import AwaitEventOutcome, Outcome, SleepOutcome, outcome_from_json
from ..core.resolutions import Resolution
from ..journal.decisions import decide_replay
from ..journal.mismatch import mismatch_error
from ..journal.model import (
    Busy,
    Claimed,
    ClaimRequest,
    CorruptRow,
    Decision,
    HashConflict,
    JournalRow,
    JournalStore,
    LeaseFence,
    ReplayError,
    ReplayOutcome,
    StrictReplayMiss,
)

if TYPE_CHECKING:
    from .durable import DurableEffectHost

BUSY_POLL_MS = 25
#: The longest durable sleep: its due time (now + duration, in ms) must fit a signed 64-bit
#: column on every substrate; 2**62 ms is about 146 million years.
MAX_SLEEP_MS = 2**62
#: Errors that end an execution without being an outcome: the claim is released so the next
#: drive re-executes instead of replaying a failure that was never the effect's answer. A
#: cancelled sleep is this drive's decision; an unavailable or mismatched local executor is this
#: drive's configuration (a replay-only caller reaching an unrecorded effect), a closed host is
#: this process going away — journaling any of them would poison the key for every later drive.
UNJOURNALED_CODES = frozenset(
    {
        ErrorCode.HOST_CLOSED.value,
        ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED.value,
        ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_UNAVAILABLE.value,
        ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH.value,
    }
)
_owner_counter = itertools.count(1)


def is_journaled(error: EffectHostError) -> bool:
    """Whether ``error`` is the effect's answer. An await event whose own substrate failed
    (``*_await_event_store``: a full disk, a lost connection) got no answer at all: recording the
    outage would replay it to every later drive instead of waiting again."""
    return error.code not in UNJOURNALED_CODES and not error.code.endswith("_await_event_store")


def new_owner_id() -> str:
    return f"pid{os.getpid()}-{next(_owner_counter)}-{time.time_ns() // 1_000_000}"


class LeaseTimings:
    """ttl ≥ 1 ms, renew ≥ 1 ms, ttl ≥ 3 x renew; ``from_ttl`` renews every third of the ttl."""

    def __init__(self, ttl_ms: int, renew_ms: int | None = None) -> None:
        renew = renew_ms if renew_ms is not None else max(1, ttl_ms // 3)
        if ttl_ms < 1 or renew < 1 or ttl_ms < 3 * renew:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID, "lease ttl must be ≥ 1 ms and at least 3x the renewal"
            )
        self.ttl_ms = ttl_ms
        self.renew_ms = renew


class JournalController:
    """The controller a durable host hands out for one execution scope."""

    def __init__(self, host: DurableEffectHost, scope: ExecutionScope) -> None:
        self._host = host
        self._store: JournalStore = host.journal
        self._scope = scope
        self._scope_key = scope.journal_key()
        self._session_id = scope.session_id
        self._strict = False
        self._cache: dict[str, JournalRow] | None = None
        self._token_seq = itertools.count(1)

    @property
    def supports_durable_effects(self) -> bool:
        return True

    @property
    def execution_scope(self) -> ExecutionScope:
        return self._scope

    def start_replay(self) -> None:
        """From now on a missing journal row is ``{backend}_effect_replay_missing``."""
        self._strict = True

    def _code(self, suffix: str) -> str:
        return backend_code(self._store.backend, suffix)

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        self._host._check_open()
        if not (isinstance(envelope, EffectEnvelope) and isinstance(local_executor, LocalExecutor)):
            check_effect_arguments(envelope, local_executor)  # raises the coded error
        replay_key = envelope.replay_key
        if not replay_key:
            raise EffectHostError(self._code("key_missing"), "runtime effect envelope has no replay key")
        if self._cache is None:
            await self._preload()
        assert self._cache is not None
        cached = self._cache.pop(replay_key, None)
        decision = decide_replay(cached, envelope.stable_hash()) if cached is not None else None
        if isinstance(decision, HashConflict) and not decision.recorded_json:
            decision = None  # preloaded rows may omit the envelope: re-read it for the diagnostics
        if decision is None:
            settled = await self._claim_until_decided(envelope, local_executor)
            if isinstance(settled, Outcome):
                return settled
            decision = settled
        if isinstance(decision, ReplayOutcome):
            outcome = self._decode_outcome(decision.outcome_json)
            if decision.due_at_ms is not None:
                await self._sleep_until(decision.due_at_ms, local_executor)
            self._host.stats_replayed += 1
            return outcome
        if isinstance(decision, ReplayError):
            self._host.stats_replayed += 1
            raise self._decode_error(decision.error_json)
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

    async def _claim_until_decided(
        self, envelope: EffectEnvelope, local_executor: LocalExecutor
    ) -> Decision | Outcome:
        """Claim through the store, waiting out live leases; run the effect when the claim is ours."""
        host = self._host
        command = envelope.command
        if isinstance(command, Sleep) and command.duration_ms > MAX_SLEEP_MS:
            # A valid u64 (spec 2.6), but its due time would not fit the journal's 64-bit
            # timestamps: refuse it here with a code instead of failing inside the store.
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"a durable sleep of {command.duration_ms} ms ends past what the journal can "
                f"schedule (at most {MAX_SLEEP_MS} ms)",
            )
        owner = host.owner_id
        request = ClaimRequest(  # positional, in field order: this runs once per effect
            self._scope_key,
            envelope.replay_key,
            self._session_id,
            envelope.stable_hash(),
            envelope.canonical_json(),
            command.kind._value_,  # the plain str (``.value`` is a Python-level enum property)
            envelope.effect_id,
            owner,
            f"{owner}:{next(self._token_seq)}",
            host.lease.ttl_ms,
            command.duration_ms if isinstance(command, Sleep) else None,
            self._strict or host.strict,
            True,  # canonical: the envelope text comes from canonical.dumps
        )
        clock = host.clock
        while True:
            decision = await self._store.claim(request)
            if isinstance(decision, Busy):
                wait_ms = decision.retry_at_ms - decision.now_ms
                await clock.sleep(min(max(wait_ms, 1), BUSY_POLL_MS) / 1000)
                continue
            if isinstance(decision, Claimed):
                return await self._run_claimed(envelope, local_executor, decision)
            return decision

    async def _preload(self) -> None:
        """Completed rows of this scope, read once: replays then cost no store round trip.

        A store may leave ``envelope_json`` empty in these rows (it is only needed to explain a
        conflict, and it is the bulk of each row); the driver then re-reads the row on a conflict.
        """
        preload = getattr(self._store, "preload", None)
        rows = await preload(self._scope_key) if preload is not None else []
        self._cache = {row.replay_key: row for row in rows}

    async def _sleep_until(self, due_at_ms: int, local_executor: LocalExecutor) -> None:
        clock = self._host.clock
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
            resolution: Resolution = await self._host.await_await_event(command.key, cancel, deadline)
            return AwaitEventOutcome(resolution)
        return await executor.execute(envelope)

    async def _run_claimed(
        self, envelope: EffectEnvelope, executor: LocalExecutor, claim: Claimed
    ) -> Outcome:
        fence = claim.fence
        task = asyncio.current_task()
        assert task is not None
        keeper = self._host.leases
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
        if held.lost:
            raise self._lease_lost()
        if error is not None and not is_journaled(error):
            await self._release_quietly(fence)
            raise error
        return await self._finalize(fence, outcome, error)

    async def _finalize(
        self, fence: LeaseFence, outcome: Outcome | None, error: EffectHostError | None
    ) -> Outcome:
        try:
            if error is not None:
                ok = await self._store.finalize(
                    fence, "failed", None, canonical.dumps(error.to_json()), canonical=True
                )
            else:
                assert outcome is not None
                ok = await self._store.finalize(
                    fence, "completed", canonical.dumps(outcome.to_json()), None, canonical=True
                )
        except EffectHostError:
            raise
        except (TypeError, ValueError) as exc:
            raise EffectHostError(self._code("encode"), f"cannot encode the effect result: {exc}") from None
        if not ok:
            raise self._lease_lost()
        self._host.stats_executed += 1
        if error is not None:
            raise error
        assert outcome is not None
        return outcome

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
