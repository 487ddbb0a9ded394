"""Turns as a host sees them: start, read, cancel, resume and await records, from any process.

Driving a turn (running its function) lives a layer up, in ``effecthost._private.turns``: a host
records and controls turns without knowing any turn function, so the CLI, the HTTP service and a
worker in another process all operate on the same records. ``host.run_turn`` hands the driving back
to the turn function object (:class:`DrivenTurn`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ..core import canonical
from ..core.await_values import AwaitEventKey
from ..core.clock import Clock
from ..core.errors import EffectHostError, ErrorCode
from ..core.identity import ExecutionScope, check_id
from ..core.resolutions import Resolution, ResolveOutcome
from ..lifecycle import transitions
from ..lifecycle.model import TurnRecord, TurnStatus, ended_topic, turns_unsupported
from ..lifecycle.store import TurnStore


class TurnHost(Protocol):
    """What the record operations need of their host (the durable host; a Protocol, so that
    this module does not import the host that holds it)."""

    @property
    def backend(self) -> str: ...

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]: ...

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome: ...


#: A result waiter re-reads the record at least this often, even without a wake-up.
RESULT_POLL_MAX_S = 1.0
DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


class DrivenTurn(Protocol):
    """What ``host.run_turn`` and ``host.start_turn`` accept besides a name: a turn function
    object (``@durable_turn``), which knows how to drive itself on a host."""

    @property
    def name(self) -> str: ...

    async def run_here(
        self, host: Any, *, session_id: str, turn_id: str, input: dict[str, Any] | None
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class TurnInfo:
    """A turn's record, decoded. ``result`` is the returned JSON value of a completed turn;
    ``error`` the coded error of a failed or cancelled one; ``waiting`` what it waits for."""

    session_id: str
    turn_id: str
    name: str
    status: TurnStatus
    input: dict[str, Any]
    result: Any
    error: EffectHostError | None
    waiting: dict[str, Any] | None
    attempts: int
    resumes: int
    cancel_requested: bool
    created_at_ms: int
    updated_at_ms: int
    #: The driver's bookkeeping: ``failed_effect`` (what a resume retries), ``grants`` (extra
    #: attempts resumes gave, by replay key), ``set_aside`` (the errors resumes cleared, oldest
    #: first), ``fork`` (``{"turn_id", "keep"}`` of a forked turn); on a host with interceptors,
    #: ``carried`` (what they keep across drives, such as a trace context) and ``suspended``
    #: (``{"at_ms", "attempt", "status"}`` of the last suspension); ``drives`` (``[number,
    #: started_at_ms]`` of each drive, oldest first, the newest 100: written with each claim).
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, record: TurnRecord) -> TurnInfo:
        return cls(
            session_id=record.session_id,
            turn_id=record.turn_id,
            name=record.name,
            status=record.status,
            input=canonical.loads(record.input_json),
            result=None if record.result_json is None else canonical.loads(record.result_json),
            error=None
            if record.error_json is None
            else EffectHostError.from_json(canonical.loads(record.error_json)),
            waiting=None if record.waiting_json is None else canonical.loads(record.waiting_json),
            attempts=record.attempts,
            resumes=record.resumes,
            cancel_requested=record.cancel_requested,
            created_at_ms=record.created_at_ms,
            updated_at_ms=record.updated_at_ms,
            meta=canonical.loads(record.meta_json),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "turn_id": self.turn_id,
            "name": self.name,
            "status": str(self.status),
            "input": self.input,
            "result": self.result,
            "error": None if self.error is None else self.error.to_json(),
            "waiting": self.waiting,
            "attempts": self.attempts,
            "resumes": self.resumes,
            "cancel_requested": self.cancel_requested,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "meta": self.meta,
        }


class TurnHandle:
    """A started turn. ``await handle.result()`` waits for its end from any process."""

    __slots__ = ("_control", "session_id", "turn_id")

    def __init__(self, control: TurnControl, session_id: str, turn_id: str) -> None:
        self._control = control
        self.session_id = session_id
        self.turn_id = turn_id

    async def info(self) -> TurnInfo:
        return await self._control.require(self.session_id, self.turn_id)

    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the contract's name
        """The turn's result; its coded error raised (``turn_cancelled`` when cancelled);
        ``turn_result_timeout`` when ``timeout`` seconds pass first (the turn goes on)."""
        record = await self._control.wait_ended(self.session_id, self.turn_id, timeout)
        return outcome_of(record)

    def __repr__(self) -> str:
        return f"<TurnHandle {self.session_id!r}/{self.turn_id!r}>"


def outcome_of(record: TurnRecord) -> Any:
    """An ended turn's result, or its error raised."""
    if record.status is TurnStatus.COMPLETED:
        return None if record.result_json is None else canonical.loads(record.result_json)
    assert record.error_json is not None
    raise EffectHostError.from_json(canonical.loads(record.error_json))


def check_budget(text: str, limit: int, what: str) -> None:
    """Refuse a canonical JSON text over the byte budget before anything is written."""
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise EffectHostError(
            ErrorCode.TURN_PAYLOAD_TOO_LARGE,
            f"{what} is {len(text.encode('utf-8', 'surrogatepass'))} bytes, over the budget of {limit}",
        )


def _turn_ids(session_id: object, turn_id: object) -> tuple[str, str]:
    for value, what in ((session_id, "session id"), (turn_id, "turn id")):
        if not isinstance(value, str) or not value.strip():
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, f"a turn needs a non-empty {what}")
        check_id(value, what)
    return session_id, turn_id  # type: ignore[return-value]


class TurnControl:
    """The record operations behind the host's turn methods."""

    def __init__(
        self, host: TurnHost, store: TurnStore | None, clock: Clock, max_turn_payload_bytes: int
    ) -> None:
        self._host = host
        self._store = store
        self.clock = clock
        self.max_turn_payload_bytes = max_turn_payload_bytes

    @property
    def store(self) -> TurnStore:
        if self._store is None:
            raise turns_unsupported(self._host.backend)
        return self._store

    async def start(
        self, fn_or_name: DrivenTurn | str, session_id: str, turn_id: str, input: dict[str, Any] | None
    ) -> TurnHandle:
        record = await self.insert(fn_or_name, session_id, turn_id, input)
        return TurnHandle(self, record.session_id, record.turn_id)

    async def insert(
        self,
        fn_or_name: DrivenTurn | str,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None,
        *,
        held_by: tuple[str, int] | None = None,
    ) -> TurnRecord:
        """Record the turn unless it exists; the record stored. ``held_by=(owner, ttl_ms)`` inserts
        it already claimed (``run_turn`` drives what it starts: one write instead of two)."""
        name = fn_or_name if isinstance(fn_or_name, str) else getattr(fn_or_name, "name", None)
        if not isinstance(name, str) or not name.strip():
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"start_turn needs a @durable_turn function or its name, not {fn_or_name!r}",
            )
        session_id, turn_id = _turn_ids(session_id, turn_id)
        input_json = self.encode_input(input)
        now = self.clock.now_ms()
        wanted = transitions.new_turn(session_id, turn_id, name, input_json, now)
        if held_by is not None:
            wanted = transitions.claim(held_by[0], now, held_by[1])(wanted) or wanted
        # A turn inserted held by its driver (``run_turn``) tells nobody anything until it ends,
        # and the first synced commit after it (an effect's outcome, the end) makes it durable
        # too (the WAL is sequential): it needs no sync of its own.
        stored = await self.store.insert(wanted, durable=held_by is None)
        if stored.name != name or stored.input_json != input_json:
            raise EffectHostError(
                ErrorCode.TURN_START_CONFLICT,
                f"turn {session_id!r}/{turn_id!r} was started as {stored.name} with other input;"
                " a turn id names one run (use a new turn id)",
            )
        return stored

    def encode_input(self, input: dict[str, Any] | None) -> str:
        if input is None:
            input = {}
        if not isinstance(input, dict) or not all(isinstance(k, str) for k in input):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, "a turn's input is a dict of keyword arguments (str keys) or None"
            )
        text = canonical.dumps(canonical.normalize(input, what="turn input"))
        check_budget(text, self.max_turn_payload_bytes, "the turn input")
        return text

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        session_id, turn_id = _turn_ids(session_id, turn_id)
        return await self.store.get(session_id, turn_id)

    async def require(self, session_id: str, turn_id: str) -> TurnInfo:
        record = await self.get(session_id, turn_id)
        if record is None:
            raise _not_found(session_id, turn_id)
        return TurnInfo.of(record)

    async def wait_ended(self, session_id: str, turn_id: str, timeout_s: float | None) -> TurnRecord:
        if timeout_s is not None and (
            isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s < 0
        ):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"timeout must be seconds >= 0 or None, not {timeout_s!r}"
            )
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        watch = self.store.watch(ended_topic(session_id, turn_id))
        poll = 0.01
        try:
            while True:
                watch.event.clear()  # before the read: a change after it sets the event again
                record = await self.store.get(session_id, turn_id)
                if record is None:
                    raise _not_found(session_id, turn_id)
                if record.status.terminal:
                    return record
                wait_s = poll if deadline is None else min(poll, deadline - time.monotonic())
                if wait_s <= 0:
                    raise EffectHostError(
                        ErrorCode.TURN_RESULT_TIMEOUT,
                        f"turn {session_id!r}/{turn_id!r} is still {record.status} after {timeout_s} s",
                    )
                try:
                    await asyncio.wait_for(watch.event.wait(), wait_s)
                    poll = 0.01
                except TimeoutError:
                    poll = min(poll * 2, RESULT_POLL_MAX_S)
        finally:
            watch.close()

    async def cancel(self, session_id: str, turn_id: str) -> TurnInfo:
        """Durable: an unheld turn ends cancelled now; a running one stops at its next effect
        boundary. Either way its outstanding waits resolve ``Cancelled`` (first writer wins)."""
        session_id, turn_id = _turn_ids(session_id, turn_id)
        record = await self.store.update(session_id, turn_id, transitions.request_cancel(self.clock.now_ms()))
        if record is None:
            raise _not_found(session_id, turn_id)
        if record.cancel_requested:
            scope = ExecutionScope.turn(session_id, turn_id)
            for key in await self._host.list_outstanding_await_event_keys(session_id):
                if key.scope == scope:
                    await self._host.resolve_await_event(key, Resolution.CANCELLED)
        return TurnInfo.of(record)

    async def resume(self, session_id: str, turn_id: str) -> TurnHandle:
        """A failed turn runs again from its failing effect: that effect gets one more attempt
        (its journaled error stays where it is, under its own replay key)."""
        session_id, turn_id = _turn_ids(session_id, turn_id)
        record = await self.store.get(session_id, turn_id)
        if record is None:
            raise _not_found(session_id, turn_id)
        if record.status is not TurnStatus.FAILED:
            raise EffectHostError(
                ErrorCode.TURN_NOT_RESUMABLE,
                f"turn {session_id!r}/{turn_id!r} is {record.status}, not failed",
            )
        meta = canonical.loads(record.meta_json)
        failed_effect = meta.get("failed_effect")
        grants: dict[str, int] = dict(meta.get("grants") or {})
        if isinstance(failed_effect, str):
            grants[failed_effect] = grants.get(failed_effect, 0) + 1
        set_aside = [*meta.get("set_aside", []), canonical.loads(record.error_json or "null")]
        new_meta = canonical.dumps(canonical.normalize({**meta, "grants": grants, "set_aside": set_aside}))
        after = await self.store.update(
            session_id, turn_id, transitions.resume(new_meta, self.clock.now_ms())
        )
        if after is None or after.status is not TurnStatus.PENDING:
            raise EffectHostError(
                ErrorCode.TURN_NOT_RESUMABLE, f"turn {session_id!r}/{turn_id!r} changed meanwhile"
            )
        return TurnHandle(self, session_id, turn_id)

    async def fork(self, session_id: str, turn_id: str, new_turn_id: str, keep: int) -> TurnHandle:
        """A new turn (same session, function and input) whose first ``keep`` effects, in program
        order, take the outcomes recorded by ``turn_id``; the rest run (DBOS's fork)."""
        session_id, turn_id = _turn_ids(session_id, turn_id)
        _, new_turn_id = _turn_ids(session_id, new_turn_id)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"keep is a number of effects >= 0, not {keep!r}"
            )
        source = await self.store.get(session_id, turn_id)
        if source is None:
            raise _not_found(session_id, turn_id)
        meta = canonical.dumps({"fork": {"keep": keep, "turn_id": turn_id}})
        wanted = dataclasses.replace(
            transitions.new_turn(
                session_id, new_turn_id, source.name, source.input_json, self.clock.now_ms()
            ),
            meta_json=meta,
        )
        stored = await self.store.insert(wanted)
        forked_as = canonical.loads(stored.meta_json).get("fork")
        if (stored.name, stored.input_json, forked_as) != (
            source.name,
            source.input_json,
            {"keep": keep, "turn_id": turn_id},
        ):
            raise EffectHostError(
                ErrorCode.TURN_START_CONFLICT,
                f"turn {session_id!r}/{new_turn_id!r} exists and is not this fork (a fork needs a new id)",
            )
        return TurnHandle(self, session_id, new_turn_id)

    async def list(
        self, session_id: str | None, status: TurnStatus | str | None, limit: int, offset: int
    ) -> list[TurnInfo]:
        if session_id is not None:
            check_id(session_id, "session id")
        try:
            wanted = None if status is None else TurnStatus(status)
        except ValueError:
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"unknown turn status {status!r}") from None
        records = await self.store.list_turns(
            session_id=session_id, status=wanted, limit=limit, offset=offset
        )
        return [TurnInfo.of(r) for r in records]

    async def woken_by(self, key: AwaitEventKey, outcome: ResolveOutcome) -> None:
        """A resolve stood: a suspended turn waiting on the key becomes runnable (its worker is
        woken by the store's runnable topic). A crash between the two writes is repaired by the
        worker's sweep of waiting turns."""
        if self._store is None or key.scope.variant != "turn" or outcome == ResolveOutcome.UNKNOWN_OR_REVOKED:
            return
        session_id, turn_id = key.scope.ids
        record = await self._store.get(session_id, turn_id)
        if record is not None and record.wait_key_id == key.key_id and not record.held:
            await self._store.update(
                session_id, turn_id, transitions.wake(key.key_id, self.clock.now_ms()), durable=False
            )


def _not_found(session_id: str, turn_id: str) -> EffectHostError:
    return EffectHostError(ErrorCode.TURN_NOT_FOUND, f"no turn {session_id!r}/{turn_id!r}")
