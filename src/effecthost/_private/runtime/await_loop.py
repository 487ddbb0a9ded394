"""The await-event state table (spec 5.2) over any :class:`AwaitStore`, written once.

Inline hosts run it over a private in-memory store; durable hosts over their substrate. Every
failure to authenticate, a revoked session and a foreign row look the same from outside, and cost
the same: each refusal is decided after exactly one ``inspect`` of the row the key names, whether
its signature checked out or not, so the time a refusal takes does not tell a forged key from a
genuine key of a revoked session (bench/refusal_timing.py measures it).
"""

from __future__ import annotations

import asyncio
import time

from ..awaits import keys
from ..awaits.steps import (
    Publish,
    Refuse,
    Register,
    ReturnTerminal,
    StopTurnControl,
    WaitState,
    next_poll_s,
    next_wait_step,
)
from ..awaits.store import AwaitStore, Inspection, PromiseIdentity, StoreResult
from ..core import canonical
from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.errors import EffectHostError, ErrorCode
from ..core.executor import CancelToken, check_cancel, check_deadline
from ..core.identity import ExecutionScope, check_id
from ..core.resolutions import Resolution, ResolveOutcome

_UNKNOWN_MESSAGE = "await-event key is invalid or revoked"
#: How a parked waiter polls its row when no wake-up comes: a safety net only (tests that prove a
#: wake-up arrived switch polling off by setting both to an hour).
POLL_START_S = 0.025
POLL_MAX_S = 1.0


def _is_store_outage(exc: EffectHostError) -> bool:
    """A substrate failure (``*_await_event_store``), as opposed to an answer about the key."""
    return exc.code.endswith("_await_event_store")


def unknown_or_revoked() -> EffectHostError:
    return EffectHostError(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, _UNKNOWN_MESSAGE)


def identity_of(key: AwaitEventKey) -> PromiseIdentity:
    return PromiseIdentity(
        canonical.dumps(key.scope.to_json()),
        canonical.dumps(key.wait.to_json()),
        key.scope.session_id,
        key.wait.is_turn_control,
    )


def _check_session_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise EffectHostError(
            ErrorCode.INVALID_AWAIT_EVENT_SESSION_ID, "await-event session ids must be non-empty"
        )
    check_id(session_id, "session id")
    return session_id


_CANCELLED_JSON = canonical.dumps(Resolution.CANCELLED.to_json())
_TIMEOUT_JSON = canonical.dumps(Resolution.TIMEOUT.to_json())


class AwaitCoordinator:
    def __init__(self, store: AwaitStore) -> None:
        self._store = store
        self._secret: bytes | None = None
        self._closing = asyncio.Event()

    def close(self) -> None:
        """End every wait parked on this coordinator with ``host_closed``. Their promises stay
        pending in the store: another host (or this process after a reopen) can wait again."""
        self._closing.set()

    def _check_not_closing(self) -> None:
        if self._closing.is_set():
            raise EffectHostError(
                ErrorCode.HOST_CLOSED, "the effect host was closed while this await event was waited on"
            )

    @property
    def store(self) -> AwaitStore:
        return self._store

    async def secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self._store.signing_secret()
        return self._secret

    async def _authentic(self, key: AwaitEventKey) -> bool:
        return keys.authenticate(await self.secret(), key)

    async def _admitted(self, key: AwaitEventKey) -> tuple[PromiseIdentity, str | None] | None:
        """Authenticate ``key`` and read its row: (identity, terminal or None) when the key may
        go on, None when it is refused. The row is read whatever the signature says, so that a
        forged key costs what a genuine key of a revoked session does."""
        authentic = await self._authentic(key)
        try:
            identity = identity_of(key)
        except (AttributeError, TypeError, ValueError, EffectHostError):
            return None  # not a key at all (no token decodes to this): nothing to read
        state, terminal = await self._store.inspect(key.key_id, identity)
        if not authentic or state is Inspection.UNKNOWN_OR_REVOKED:
            return None
        return identity, terminal if state is Inspection.RESOLVED else None

    async def mint(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        if not isinstance(scope, ExecutionScope):
            raise EffectHostError(
                ErrorCode.MISSING_EXECUTION_SCOPE_ID, "await-event keys need an ExecutionScope"
            )
        if not isinstance(wait, WaitIdentity):
            raise EffectHostError(
                ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY, "await-event keys need a WaitIdentity"
            )
        key = keys.mint(await self.secret(), scope, wait)
        session = scope.session_id
        if session is not None and await self._store.is_revoked(session):
            raise unknown_or_revoked()
        return key

    async def resolve(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome:
        if not isinstance(resolution, Resolution):
            raise EffectHostError(ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID, "resolve needs a Resolution")
        admitted = await self._admitted(key)
        if admitted is None:
            return ResolveOutcome.UNKNOWN_OR_REVOKED
        if admitted[1] is not None:  # already resolved: the write would only say so again
            return ResolveOutcome.already_resolved(Resolution.from_json(canonical.loads(admitted[1])))
        return await self._publish(key, canonical.dumps(resolution.to_json()))

    async def _publish(self, key: AwaitEventKey, terminal_json: str) -> ResolveOutcome:
        result, first = await self._store.store_terminal(key.key_id, identity_of(key), terminal_json)
        if result is StoreResult.STORED:
            return ResolveOutcome.ACCEPTED
        if result is StoreResult.ALREADY_RESOLVED and first is not None:
            return ResolveOutcome.already_resolved(Resolution.from_json(canonical.loads(first)))
        return ResolveOutcome.UNKNOWN_OR_REVOKED

    async def peek(self, key: AwaitEventKey) -> Resolution | None:
        admitted = await self._admitted(key)
        if admitted is None:
            raise unknown_or_revoked()
        terminal = admitted[1]
        return None if terminal is None else Resolution.from_json(canonical.loads(terminal))

    async def wait(
        self, key: AwaitEventKey, cancel: CancelToken | None, deadline: float | None
    ) -> Resolution:
        """Park until a terminal stands; publish Cancelled/Timeout through first-writer-wins."""
        cancel, deadline = check_cancel(cancel), check_deadline(deadline)
        admitted = await self._admitted(key)
        if admitted is None:
            raise unknown_or_revoked()
        identity, terminal = admitted
        if terminal is not None:
            return Resolution.from_json(canonical.loads(terminal))
        cancel = cancel or CancelToken()
        subscription = self._store.hub.subscribe(key.key_id, key.scope.session_id)
        waiters: list[asyncio.Future[object]] = []
        try:
            if not await self._store.ensure_pending(key.key_id, identity):
                raise unknown_or_revoked()
            poll = POLL_START_S
            while True:
                self._check_not_closing()
                subscription.event.clear()  # clear *before* reading: a later store re-sets it
                state, terminal = await self._read_tolerating_outage(key.key_id, identity)
                remaining = None if deadline is None else deadline - time.monotonic()
                step = next_wait_step(
                    WaitState(state, terminal, cancel.cancelled, remaining, key.wait.is_turn_control, poll),
                    _CANCELLED_JSON,
                    _TIMEOUT_JSON,
                )
                if isinstance(step, ReturnTerminal):
                    return Resolution.from_json(canonical.loads(step.terminal_json))
                if isinstance(step, Refuse):
                    raise unknown_or_revoked()
                if isinstance(step, Register):
                    if not await self._store.ensure_pending(key.key_id, identity):
                        raise unknown_or_revoked()
                    continue
                if isinstance(step, StopTurnControl):
                    raise EffectHostError(step.code, step.message)
                if isinstance(step, Publish):
                    if await self._publish(key, step.terminal_json) == ResolveOutcome.UNKNOWN_OR_REVOKED:
                        raise unknown_or_revoked()
                    continue  # stored or already resolved: the next read returns whichever won
                if not waiters:
                    waiters = [
                        asyncio.ensure_future(subscription.event.wait()),
                        asyncio.ensure_future(cancel.wait()),
                        asyncio.ensure_future(self._closing.wait()),
                    ]
                elif waiters[0].done():
                    waiters[0] = asyncio.ensure_future(subscription.event.wait())
                done, _ = await asyncio.wait(
                    waiters, timeout=step.timeout_s, return_when=asyncio.FIRST_COMPLETED
                )
                poll = next_poll_s(poll, waiters[0] in done, POLL_START_S, POLL_MAX_S)
        finally:
            for waiter in waiters:
                waiter.cancel()
            subscription.close()

    async def _read_tolerating_outage(
        self, key_id: str, identity: PromiseIdentity
    ) -> tuple[Inspection | None, str | None]:
        try:
            return await self._store.inspect(key_id, identity)
        except EffectHostError as exc:
            if not _is_store_outage(exc):
                raise
            # The substrate is unreachable (a database restart, a cut connection). The waiter is
            # registered and rows are the truth: keep waiting and read again on the next wake-up
            # or poll, instead of ending a wait that may last hours.
            return None, None

    async def register(self, key: AwaitEventKey) -> None:
        """Register the key's promise without parking on it (a suspended turn's wait is listed
        as outstanding until it resolves); a forged or revoked key is refused."""
        admitted = await self._admitted(key)
        if admitted is None or not await self._store.ensure_pending(key.key_id, admitted[0]):
            raise unknown_or_revoked()

    async def revoke_session(self, session_id: str) -> None:
        await self._store.revoke_session(_check_session_id(session_id))

    async def cancel_session(self, session_id: str) -> int:
        return await self._store.cancel_session(_check_session_id(session_id), _CANCELLED_JSON)

    async def outstanding(self, session_id: str) -> list[AwaitEventKey]:
        session_id = _check_session_id(session_id)
        secret = await self.secret()
        out: list[AwaitEventKey] = []
        for pending in await self._store.pending_for_session(session_id):
            scope = ExecutionScope.from_json(canonical.loads(pending.scope_json))
            wait = WaitIdentity.from_json(canonical.loads(pending.wait_json))
            out.append(keys.mint(secret, scope, wait))
        return out
