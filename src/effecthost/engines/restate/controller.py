"""The handler-scoped controller: a turn's effects inside one Restate invocation.

Every journaled effect is one named durable run (``ctx.run`` named after the replay key) whose
value is a record ``{"envelope": {"json", "hash"}, "outcome": {"Ok": outcome} | {"Err": error}}``:
errors are data, so the run itself succeeds and is journaled either way. After the run (the first
execution or Restate's replay of it) the recorded hash is compared with the current envelope's;
a difference is ``restate_effect_replay_hash_conflict`` with the divergent JSON paths.

Sleeps are Restate durable timers (after a run that records the sleep's envelope, so a changed
sleep is a mismatch too). An await event registers with its session's index object and calls the
durable-wait workflow's ``wait``; a deadline races it against a durable timer, and a timeout or
a cancellation is published through the index, the same first-writer-wins path a resolve takes.

Concurrency. The SDK's futures must be driven by one coroutine at a time: effects started
together (``asyncio.gather``) each issue their Restate command when they are *called* (in program
order, so a replay sees the same journal) and then share one pump, which waits with
``restate.wait_completed`` for any pending command and hands each result to its effect.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from restate.serde import BytesSerde
from restate.vm import FirstCompletedUnresolvedFuture, SingleUnresolvedFuture

import restate
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
from effecthost.engine import authenticate_await_event_key, dump_effect_record

from ..kit import EngineController, outcome_of_record, refuse_over_budget, terminal_of, unknown_or_revoked
from .config import INDEX_SERVICE, WAIT_SERVICE, RestateConfig, index_key, wait_key

_BYTES = BytesSerde()
#: Restate's status for a cancelled invocation (delivered at the handler's next await point).
CANCELLED_STATUS = 409


class _Pump:
    """One coroutine at a time drives the SDK; every waiter gets its own future's result.

    A poll waits for the first of every tracked command to complete. A command issued while a
    poll is under way (a step started beside a parked wait) joins that poll at once: the poll's
    set of handles is extended and the SDK's input loop nudged, so the new command's run starts
    instead of waiting for the parked one. (This reaches into the SDK's server context: its
    ``create_poll_or_cancel_coroutine`` and input queue, as of restate-sdk 1.3.)"""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._waiters: dict[int, tuple[restate.RestateDurableFuture[Any], asyncio.Future[Any]]] = {}
        #: The handles of the poll under way (None between polls), and its SDK context.
        self._children: list[Any] | None = None
        self._context: Any = None
        self._nudges: set[asyncio.Future[Any]] = set()

    def track(self, future: restate.RestateDurableFuture[Any]) -> None:
        """Include ``future`` in every poll from now on (issued commands run together)."""
        if id(future) in self._waiters:
            return
        self._waiter(future)
        context: Any = self._context
        same = getattr(future, "context", None) is self._context
        if self._children is not None and same:
            self._children.append(SingleUnresolvedFuture(future.handle))  # type: ignore[attr-defined]
            nudge = {"type": "restate.run_completed", "data": None}
            task = asyncio.ensure_future(context.receive.enqueue_restate_event(nudge))
            self._nudges.add(task)
            task.add_done_callback(self._nudges.discard)

    def _waiter(self, future: restate.RestateDurableFuture[Any]) -> asyncio.Future[Any]:
        entry = self._waiters.get(id(future))
        if entry is None:
            entry = (future, asyncio.get_running_loop().create_future())
            self._waiters[id(future)] = entry
        return entry[1]

    async def _poll(self, pending: list[Any]) -> list[Any]:
        done = [f for f in pending if f.is_completed()]
        if done:
            return done
        context = pending[0].context
        self._context = context
        self._children = [SingleUnresolvedFuture(f.handle) for f in pending]
        try:
            await context.create_poll_or_cancel_coroutine(FirstCompletedUnresolvedFuture(self._children))
        finally:
            self._children = None
        tracked: list[Any] = [f for f, w in self._waiters.values() if not w.done()]
        return [f for f in tracked if f.is_completed()]

    async def first(self, *futures: restate.RestateDurableFuture[Any]) -> int:
        """Drive until one of ``futures`` completed; its index (its result: :meth:`result`)."""
        waiters = [self._waiter(f) for f in futures]
        while not any(w.done() for w in waiters):
            async with self._lock:
                if any(w.done() for w in waiters):
                    break
                pending = [f for f, w in self._waiters.values() if not w.done()]
                try:
                    done = await self._poll(pending)
                except restate.TerminalError:
                    raise  # a cancellation: the caller decides what it means
                except BaseException as exc:
                    # the attempt ends (suspension, a lost connection): every waiter ends with it
                    for f, w in list(self._waiters.values()):
                        if w is not waiters[0] and not w.done():
                            w.set_exception(exc)
                            w.exception()  # retrieved: nobody may wait for it any more
                        self._waiters.pop(id(f), None)
                    raise
                for f in done:  # the entry stays until its owner takes the result
                    _, w = self._waiters[id(f)]
                    try:
                        w.set_result(await f)
                    except restate.TerminalError as err:
                        w.set_exception(err)
        return next(i for i, w in enumerate(waiters) if w.done())

    def result(self, future: restate.RestateDurableFuture[Any]) -> Any:
        entry = self._waiters.pop(id(future), None)
        if entry is not None:
            return entry[1].result()
        raise RuntimeError("result() of a future the pump did not complete")

    async def wait(self, future: restate.RestateDurableFuture[Any]) -> Any:
        waiter = self._waiter(future)
        await self.first(future)
        self._waiters.pop(id(future), None)
        return waiter.result()


class RestateController(EngineController):
    """Performs effects inside one Restate handler (``ctx``): journaled runs, durable timers,
    durable waits. Build one per invocation; effects of one scope share it."""

    def __init__(
        self, ctx: restate.Context, config: RestateConfig, *, cancel: CancelToken | None = None
    ) -> None:
        self._ctx = ctx
        self._config = config
        #: Set when Restate cancels the invocation: the turn stops at its next effect.
        self.cancel = cancel or CancelToken()
        self._pump = _Pump()
        #: Records of this invocation by replay key: a key executed twice answers its first record.
        self._records: dict[str, asyncio.Future[bytes]] = {}
        #: How many runs this invocation journaled or replayed (for tests and benchmarks).
        self.runs = 0

    def start_replay(self) -> None:
        """Nothing to switch: within an invocation a recorded key answers its record, and a
        retried invocation replays Restate's journal without running anything."""

    # -- the pump, for the engine's timers and calls -------------------------------------------

    async def wait(self, future: restate.RestateDurableFuture[Any]) -> Any:
        """Await a Restate future alongside the other effects of this invocation. A cancellation
        of the invocation sets :attr:`cancel` and the wait goes on (the effect finishes)."""
        while True:
            try:
                return await self._pump.wait(future)
            except restate.TerminalError as err:
                if err.status_code != CANCELLED_STATUS or self.cancel.cancelled:
                    raise
                self.cancel.cancel()

    async def sleep_ms(self, ms: int) -> None:
        """A durable timer; a cancellation of the invocation ends the sleep (``turn_cancelled``)
        instead of waiting for the timer."""
        future = self._ctx.sleep(timedelta(milliseconds=max(ms, 0)))
        self._pump.track(future)
        try:
            await self._pump.wait(future)
        except restate.TerminalError as err:
            if err.status_code != CANCELLED_STATUS:
                raise
            self.cancel.cancel()
            raise EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled while it slept") from None

    async def call(self, service: str, handler: str, body: Any, key: str) -> Any:
        future = self._ctx.generic_call(service, handler, json.dumps(body).encode(), key=key)
        self._pump.track(future)
        raw = await self.wait(future)
        return json.loads(raw) if raw else None

    # -- effects (which step an effect takes: EngineController.execute_effect) -------------------

    def _budget(self, what: str, text: str) -> None:
        refuse_over_budget(
            ErrorCode.RESTATE_JOURNAL_BUDGET_EXCEEDED,
            "Restate journal budget",
            what,
            text,
            self._config.journal_budget_bytes,
        )

    def _run(
        self, envelope: EffectEnvelope, executor: LocalExecutor | None
    ) -> restate.RestateDurableFuture[bytes]:
        """Issue the named run now (its place in the journal is the call's place in the program)."""
        text, digest = envelope.canonical_json(), envelope.stable_hash()
        self._budget(f"the envelope of {envelope.replay_key!r}", text)

        async def action() -> bytes:
            body: dict[str, Any]
            if executor is None:
                body = {"Ok": None}
            else:
                try:
                    body = {"Ok": (await executor.execute(envelope)).to_json()}
                except EffectHostError as err:
                    body = {"Err": err.to_json()}
            record = dump_effect_record(text, digest, body)
            try:
                self._budget(f"the outcome of {envelope.replay_key!r}", record)
            except EffectHostError as err:  # the oversized outcome never reaches the journal
                record = dump_effect_record(text, digest, {"Err": err.to_json()})
            return record.encode()

        future = self._ctx.run_typed(envelope.replay_key, action, restate.RunOptions(serde=_BYTES))
        self.runs += 1
        self._pump.track(future)  # now: the next poll covers it, whoever drives the pump
        return future

    async def _record(self, envelope: EffectEnvelope, executor: LocalExecutor | None) -> Outcome:
        key = envelope.replay_key
        pending = self._records.get(key)
        if pending is not None:  # this invocation ran the key already: its first record answers
            raw = await asyncio.shield(pending)
        else:
            future = self._run(envelope, executor)
            if getattr(future, "is_completed", lambda: False)():
                # replayed from Restate's journal: the value is here, no task needed (the hot
                # path of a replay); the record is kept for a key executed twice
                done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
                self._records[key] = done
                try:
                    raw = await self.wait(future)
                except BaseException as exc:
                    done.set_exception(exc)
                    done.exception()
                    raise
                done.set_result(raw)
            else:
                pending = self._records[key] = asyncio.ensure_future(self.wait(future))
                raw = await asyncio.shield(pending)
        return outcome_of_record(
            raw,
            envelope,
            envelope_only=executor is None,
            decode_code=ErrorCode.RESTATE_EFFECT_REPLAY_DECODE,
            recorded_as="journaled run",
            conflict_code=ErrorCode.RESTATE_EFFECT_REPLAY_HASH_CONFLICT,
        )

    async def _await_event(self, command: AwaitEvent, executor: LocalExecutor) -> Resolution:
        key = command.key
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()  # before Restate is touched
        cancel, deadline = executor.into_await_event_options()
        workflow, index = wait_key(key), index_key(key)
        registered = await self.call(
            INDEX_SERVICE, "register", {"wait": workflow, "token": key.to_token()}, index
        )
        if registered == "revoked":
            raise unknown_or_revoked()
        waiting = self._ctx.generic_call(WAIT_SERVICE, "wait", b"null", key=workflow)
        self._pump.track(waiting)
        timer = None
        if deadline is not None:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            timer = self._ctx.sleep(timedelta(milliseconds=remaining_ms))
            self._pump.track(timer)

        async def publish(resolution: Resolution) -> None:
            await self.call(
                INDEX_SERVICE, "resolve", {"wait": workflow, "resolution": resolution.to_json()}, index
            )

        if cancel.cancelled:
            await publish(Resolution.CANCELLED)
        while True:
            try:
                futures = [waiting] if timer is None else [waiting, timer]
                which = await self._pump.first(*futures)
            except restate.TerminalError as err:
                if err.status_code != CANCELLED_STATUS:
                    raise
                self.cancel.cancel()
                cancel.cancel()
                await publish(Resolution.CANCELLED)
                continue
            if which == 1 and timer is not None:
                self._pump.result(timer)
                timer = None
                await publish(Resolution.TIMEOUT)
                continue
            break
        return _terminal(self._pump.result(waiting))


def _terminal(raw: Any) -> Resolution:
    return terminal_of(json.loads(raw) if isinstance(raw, (bytes, bytearray)) else raw)


Caller = Callable[[], Awaitable[Any]]
