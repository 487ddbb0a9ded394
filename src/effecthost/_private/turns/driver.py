"""Driving one claimed turn: run its function with a :class:`Turn`, keep its lease, write its end.

A drive ends in one of four ways: the function returned (completed), it raised (failed, with the
effect the error came from remembered for a resume), it was cancelled (cancelled), or it parked
on a long wait or sleep (suspended: the record says what for, the task ends). A drive whose lease
was lost (its process stalled past the TTL and another driver took the turn over) stops without
writing anything: the successor owns the record now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..core import canonical
from ..core.await_values import AwaitEventKey
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken
from ..core.identity import ExecutionScope
from ..lifecycle import transitions
from ..lifecycle.model import TurnRecord, TurnStatus, ended_topic
from ..lifecycle.store import Change
from ..runtime.interceptors import DriveTurnInput, TurnEnd
from ..runtime.turn_control import check_budget
from .context import Suspended
from .retry import exception_names
from .turn import CURRENT_TURN, ForkSource, Turn, TurnRuntime

if TYPE_CHECKING:
    from ..runtime.durable import DurableEffectHost

_log = logging.getLogger("effecthost.turns")


def drive_owner(host: DurableEffectHost) -> str:
    """A turn owner id unique to one drive (the host's journal owner plus a nonce)."""
    return f"{host.owner_id}/{secrets.token_hex(6)}"


class TurnDriver:
    """Drives ``record`` (claimed by ``record.owner``) once."""

    def __init__(
        self,
        host: DurableEffectHost,
        fn: Callable[..., Awaitable[Any]],
        record: TurnRecord,
        *,
        suspend_after_s: float | None,
    ) -> None:
        self._host = host
        self._fn = fn
        self._record = record
        self._owner = record.owner
        self._store = host.turns.store
        self._suspend_after_s = suspend_after_s
        self._cancel = CancelToken()
        self._lost = False
        #: Set before the drive lets go of the turn (an end, a suspension, a release): from then
        #: on the lease keeper stops, instead of reading the changed record as a lost lease.
        self._letting_go = False
        #: The error a failed end recorded (what the interceptors' TurnEnd reports).
        self._error: EffectHostError | None = None
        self._observed = host.interceptor_chain is not None

    async def run(self) -> TurnStatus | None:
        """Drive to an end or a suspension; the status written, or None when the lease was lost."""
        started = time.monotonic()
        status: TurnStatus | None = None
        try:
            chain = self._host.interceptor_chain
            if chain is None:
                status = await self._run()
            else:
                status = (await chain.drive_turn(self._drive_input())).status
            return status
        finally:
            if _log.isEnabledFor(logging.INFO):
                self._log_end(status, time.monotonic() - started)

    def _drive_input(self) -> DriveTurnInput:
        record = self._record
        meta = canonical.loads(record.meta_json)
        carried = meta.get("carried")
        suspended = meta.get("suspended")
        resumed = isinstance(suspended, dict) and suspended.get("attempt") == record.attempts - 1
        return DriveTurnInput(
            session_id=record.session_id,
            turn_id=record.turn_id,
            name=record.name,
            attempt=record.attempts,
            backend=self._host.backend,
            resumed_from=TurnStatus(suspended["status"]) if resumed else None,
            suspended_at_ms=int(suspended["at_ms"]) if resumed else None,
            carried={str(k): str(v) for k, v in carried.items()} if isinstance(carried, dict) else {},
            drive=self._drive_observed,
        )

    async def _drive_observed(self, input: DriveTurnInput) -> TurnEnd:
        """The innermost link of a drive: store what the interceptors carry, then drive."""
        meta = canonical.loads(self._record.meta_json)
        if input.carried and meta.get("carried") != input.carried:
            meta["carried"] = dict(input.carried)
            after = await self._store.update(
                self._record.session_id,
                self._record.turn_id,
                transitions.set_meta(self._owner, canonical.dumps(canonical.normalize(meta))),
                durable=False,
            )
            if after is None or after.owner != self._owner:
                return TurnEnd(None)  # taken over before the function ran: the successor drives
            self._record = after
        status = await self._run()
        return TurnEnd(status, self._error if status is TurnStatus.FAILED else None)

    def _log_end(self, status: TurnStatus | None, seconds: float) -> None:
        record = self._record
        outcome = "lease_lost" if status is None else str(status)
        fields = {
            "session_id": record.session_id,
            "turn_id": record.turn_id,
            "turn": record.name,
            "attempt": record.attempts,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 3),
        }
        if self._error is not None and status is TurnStatus.FAILED:
            fields["error_code"] = self._error.code
        _log.info(
            "turn %s/%s (%s) %s in %.1f ms",
            record.session_id,
            record.turn_id,
            record.name,
            outcome,
            seconds * 1000,
            extra={"effecthost": fields},
        )

    async def _run(self) -> TurnStatus | None:
        record = self._record
        if record.cancel_requested:
            self._cancel.cancel()
        host = self._host
        meta = canonical.loads(record.meta_json)
        runtime = TurnRuntime(
            host=host,
            controller=host.controller(ExecutionScope.turn(record.session_id, record.turn_id)),
            secret=await host.await_coordinator.secret(),
            cancel=self._cancel,
            suspend_after_s=self._suspend_after_s,
            grants={str(k): int(v) for k, v in (meta.get("grants") or {}).items()},
            park=self._park,
            fork=_fork_of(record, meta),
        )
        turn = Turn(record.session_id, record.turn_id, record.name, record.attempts, runtime)
        task = asyncio.current_task()
        assert task is not None
        keeper = asyncio.create_task(self._keep(task))
        token = CURRENT_TURN.set(turn)
        try:
            try:
                result = await self._fn(turn, **canonical.loads(record.input_json))
            except Suspended:
                return turn.suspended_status
            except asyncio.CancelledError:
                if self._lost and task.cancelling() > 0:
                    task.uncancel()
                    return None
                await self._release_quietly()
                raise
            except EffectHostError as error:
                return await self._end_failed(turn, error)
            except Exception as exc:
                return await self._end_failed(
                    turn,
                    EffectHostError(
                        ErrorCode.TURN_FAILED,
                        f"{type(exc).__name__}: {exc}",
                        summary={"exception": exception_names(exc)},
                    ),
                )
            return await self._end_completed(result)
        finally:
            CURRENT_TURN.reset(token)
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper

    # -- ends ---------------------------------------------------------------------------------

    async def _end_completed(self, result: Any) -> TurnStatus | None:
        if self._cancel.cancelled:
            return await self._write(
                transitions.end_cancelled(self._owner, self._now()), TurnStatus.CANCELLED
            )
        try:
            text = canonical.dumps(canonical.normalize(result, what="the turn's result"))
            check_budget(text, self._host.turns.max_turn_payload_bytes, "the turn's result")
        except EffectHostError as error:
            self._error = error
            return await self._write(
                transitions.fail(
                    self._owner, canonical.dumps(error.to_json()), self._record.meta_json, self._now()
                ),
                TurnStatus.FAILED,
            )
        return await self._write(transitions.complete(self._owner, text, self._now()), TurnStatus.COMPLETED)

    async def _end_failed(self, turn: Turn, error: EffectHostError) -> TurnStatus | None:
        if self._cancel.cancelled:
            return await self._write(
                transitions.end_cancelled(self._owner, self._now()), TurnStatus.CANCELLED
            )
        meta = canonical.loads(self._record.meta_json)
        failure = turn.last_failure
        meta["failed_effect"] = failure[0] if failure is not None and failure[1] is error else None
        try:
            error_json = canonical.dumps(canonical.normalize(error.to_json()))
        except EffectHostError:  # a summary that is not JSON: keep code and message
            error_json = canonical.dumps({"code": error.code, "message": error.message})
        meta_json = canonical.dumps(canonical.normalize(meta))
        self._error = error
        return await self._write(
            transitions.fail(self._owner, error_json, meta_json, self._now()), TurnStatus.FAILED
        )

    async def _write(self, change: Change, status: TurnStatus) -> TurnStatus | None:
        self._letting_go = True
        after = await self._store.update(self._record.session_id, self._record.turn_id, change)
        if after is None or after.status is not status or after.held:
            _log.warning(
                "turn %r/%r: lost its lease before it could record %s",
                self._record.session_id,
                self._record.turn_id,
                status,
            )
            return None
        return status

    async def _release_quietly(self) -> None:
        self._letting_go = True
        with contextlib.suppress(EffectHostError, asyncio.CancelledError):
            await asyncio.shield(
                self._store.update(
                    self._record.session_id,
                    self._record.turn_id,
                    transitions.release(self._owner, self._now()),
                    durable=False,
                )
            )

    # -- while running ------------------------------------------------------------------------

    def _now(self) -> int:
        return self._host.clock.now_ms()

    async def _park(
        self,
        status: TurnStatus,
        waiting: dict[str, Any] | None,
        key_id: str,
        wake_at_ms: int | None,
        suspend: bool,
    ) -> None:
        session_id, turn_id = self._record.session_id, self._record.turn_id
        waiting_json = None if waiting is None else canonical.dumps(canonical.normalize(waiting))
        meta_json = None
        if suspend:
            self._letting_go = True
            if self._observed:
                # the next drive (any process) tells its interceptors it resumes this suspension
                meta = canonical.loads(self._record.meta_json)
                meta["suspended"] = {
                    "at_ms": self._now(),
                    "attempt": self._record.attempts,
                    "status": str(status),
                }
                meta_json = canonical.dumps(canonical.normalize(meta))
        change = transitions.park(
            self._owner,
            status,
            waiting_json,
            key_id,
            wake_at_ms,
            self._now(),
            suspend=suspend,
            meta_json=meta_json,
        )
        after = await self._store.update(session_id, turn_id, change, durable=False)
        ok = after is not None and after.status is status and after.owner == ("" if suspend else self._owner)
        if not ok:
            raise EffectHostError(
                ErrorCode.TURN_LEASE_LOST, f"turn {session_id!r}/{turn_id!r} lost its lease"
            )
        if suspend and key_id and waiting is not None:
            # A resolve that landed between our last look and this write found the turn still
            # held and woke nobody: look once more, now that any later resolve will wake it.
            key = AwaitEventKey.from_token(waiting["key"])
            if await self._host.peek_await_event(key) is not None:
                await self._store.update(
                    session_id, turn_id, transitions.wake(key_id, self._now()), durable=False
                )

    async def _keep(self, task: asyncio.Task[Any]) -> None:
        """Renew the turn's lease every third of its TTL and notice a cancel request (at once
        through the turn's wake-up topic, at the latest at the next renewal)."""
        session_id, turn_id = self._record.session_id, self._record.turn_id
        ttl = self._host.lease.ttl_ms
        watch = self._store.watch(ended_topic(session_id, turn_id))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watch.event.wait(), ttl / 3000)
                watch.event.clear()
                if self._letting_go:
                    return
                try:
                    after = await self._store.update(
                        session_id, turn_id, transitions.renew(self._owner, self._now(), ttl), durable=False
                    )
                except EffectHostError as exc:  # an outage: the lease may still hold; try again
                    _log.warning("turn %r/%r: lease renewal failed: %s", session_id, turn_id, exc)
                    continue
                if after is None or after.owner != self._owner:
                    if not self._letting_go and (after is None or not after.status.terminal):
                        self._lost = True
                        task.cancel()
                    return
                if after.cancel_requested:
                    self._cancel.cancel()
        finally:
            watch.close()


def _fork_of(record: TurnRecord, meta: dict[str, Any]) -> ForkSource | None:
    fork = meta.get("fork")
    if not isinstance(fork, dict):
        return None
    return ForkSource(record.session_id, str(fork["turn_id"]), int(fork["keep"]))
