"""The deployment side of an engine: the controller that refuses effects, the turn handle, the
host's engine-independent half (:class:`DeploymentHost`), and the cancel/deadline step of a wait
awaited outside the engine."""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from effecthost import (
    AwaitEventKey,
    CancelToken,
    DurableTurn,
    EffectEnvelope,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LocalExecutor,
    Outcome,
    Resolution,
    ResolveOutcome,
    ScopedController,
    TurnInfo,
    TurnStatus,
    WaitIdentity,
)
from effecthost.engine import (
    authenticate_await_event_key,
    mint_await_event_key,
)

from .errors import check_session, turn_not_found, unknown_or_revoked
from .listing import TurnCursor, TurnFilter
from .records import resolve_outcome


class RefusingController:
    """The deployment side's controller: effects run inside the engine, never here.
    ``inside`` says where (``"a Restate handler, through RestateController (...)"``)."""

    def __init__(self, code: ErrorCode, inside: str) -> None:
        self._code = code
        self._inside = inside

    @property
    def supports_durable_effects(self) -> bool:
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        raise EffectHostError(self._code, f"effect {envelope.effect_id!r} must run inside {self._inside}")


class _TurnSource(Protocol):
    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None: ...

    async def turn_result(self, session_id: str, turn_id: str, timeout: float | None = None) -> Any: ...  # noqa: ASYNC109


HostT = TypeVar("HostT", bound=_TurnSource)


@dataclass(frozen=True, slots=True)
class HostTurnHandle(Generic[HostT]):
    """A turn started on an engine: its info and its result, from any process."""

    host: HostT
    session_id: str
    turn_id: str

    async def info(self) -> TurnInfo:
        found = await self.host.get_turn(self.session_id, self.turn_id)
        if found is None:
            raise turn_not_found(self.session_id, self.turn_id)
        return found

    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the turn API's name
        return await self.host.turn_result(self.session_id, self.turn_id, timeout)


def resolver_stamp(resolved_by: object) -> dict[str, Any]:
    """Who resolves (a non-empty name or None) and when, as a wait's index keeps it."""
    if resolved_by is not None and (
        not isinstance(resolved_by, str) or not resolved_by.strip() or not _storable(resolved_by)
    ):
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "resolved_by is a non-empty name or None")
    return {"by": resolved_by, "at_ms": int(time.time() * 1000)}


def _storable(text: str) -> bool:
    """Text an engine's JSON keeps exactly: UTF-8 (no lone surrogate) without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def turn_request(
    fn_or_name: DurableTurn[Any] | str, session_id: str, turn_id: str, input: dict[str, Any] | None
) -> dict[str, Any]:
    """What starts a turn on an engine (checked ids; the turn's name, ids and input)."""
    name = fn_or_name.name if isinstance(fn_or_name, DurableTurn) else fn_or_name
    ExecutionScope.require(ExecutionScope.turn(session_id, turn_id))
    return {"name": name, "session_id": session_id, "turn_id": turn_id, "input": input or {}}


class DeploymentHost(abc.ABC):
    """The parts of an engine's deployment-side host that do not depend on the engine: scopes
    over a :class:`RefusingController`, minting keys and resolving them (every key authenticated
    before the engine is touched), the session sweeps, ``run_turn``, ``async with``, and the close
    event parked waits watch. The engine reaches its wait index through the ``_session_*`` and
    ``_publish`` hooks."""

    engine: str

    def __init__(self, controller: RefusingController, secret: bytes) -> None:
        self._controller = controller
        self._secret = secret
        self._closed = asyncio.Event()

    @property
    def supports_durable_effects(self) -> bool:
        return True

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return ScopedController.shared(self._controller, scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self.scoped(scope)

    # -- await events -----------------------------------------------------------------------------

    @abc.abstractmethod
    async def _session_revoked(self, key: AwaitEventKey) -> bool:
        """Whether the key's session is revoked (one read of the engine)."""

    @abc.abstractmethod
    async def _publish(self, key: AwaitEventKey, resolution: Any, stamp: dict[str, Any]) -> Any:
        """Offer a resolution's JSON to the key's wait (first writer wins), with who sent it and
        when (``stamp``, kept by the index if it is accepted); the index's answer."""

    @abc.abstractmethod
    async def _session_call(self, session_id: str, call: str, stamp: dict[str, Any] | None = None) -> Any:
        """The session's ``revoke_all``, ``cancel_all`` (with its ``stamp``) or ``outstanding``;
        its answer."""

    @abc.abstractmethod
    async def wait_resolvers(self, session_id: str) -> dict[str, dict[str, Any]]:
        """Who resolved the session's waits and when, as its index kept them: the wait's digest
        (:func:`key_digest`) -> ``{"by": name or None, "at_ms": ms}``, for the resolves and sweeps
        sent through a host (not deadlines, which the turn publishes itself)."""

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        """Mint (a pure derivation); a revoked session mints nothing (one read of the engine)."""
        ExecutionScope.require(scope)
        key = mint_await_event_key(self._secret, scope, wait)
        if scope.session_id and await self._session_revoked(key):
            raise unknown_or_revoked()
        return key

    async def resolve_await_event(
        self, key: AwaitEventKey, resolution: Resolution, *, resolved_by: str | None = None
    ) -> ResolveOutcome:
        """As every host's; ``resolved_by`` (a name: an operator token's, "webhook") is kept by
        the session's index with the time, as the SQL hosts record it."""
        if not isinstance(resolution, Resolution):
            raise EffectHostError(ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID, "resolve needs a Resolution")
        stamp = resolver_stamp(resolved_by)
        if not authenticate_await_event_key(self._secret, key):
            return ResolveOutcome.UNKNOWN_OR_REVOKED  # before the engine is touched
        return resolve_outcome(await self._publish(key, resolution.to_json(), stamp))

    async def revoke_await_events_for_session(self, session_id: str) -> None:
        check_session(session_id)
        await self._session_call(session_id, "revoke_all")

    async def cancel_await_events_for_session(
        self, session_id: str, *, resolved_by: str | None = None
    ) -> int:
        """Resolve the session's outstanding waits ``Cancelled``; how many were (``resolved_by``
        kept as for a resolve)."""
        check_session(session_id)
        cancelled = await self._session_call(session_id, "cancel_all", resolver_stamp(resolved_by))
        return cancelled if isinstance(cancelled, int) else 0

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]:
        check_session(session_id)
        tokens = await self._session_call(session_id, "outstanding")
        return [AwaitEventKey.from_token(token) for token in tokens or []]

    # -- turns ------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def start_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> HostTurnHandle[Any]: ...

    @abc.abstractmethod
    async def _find_turns(self, wanted: TurnFilter, *, results: bool) -> list[TurnInfo]:
        """The engine's turns that ``wanted`` admits, in its order, at most its limit;
        ``results``: ended turns with their result or error."""

    async def query_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | str | None = None,
        name: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        search: str | None = None,
        after: TurnCursor | None = None,
        newest_first: bool = True,
        limit: int = 100,
    ) -> list[TurnInfo]:
        """Turns for operators, as the SQL hosts' ``query_turns`` lists them: filtered by
        session, status, name, start time (``since_ms`` <= started < ``until_ms``) and an exact
        session or turn id (``search``), newest first (or oldest), paged by keyset (``after``:
        the previous page's last ``(created_at_ms, session_id, turn_id)``)."""
        wanted = TurnFilter.of(
            session_id=session_id, status=status, name=name, since_ms=since_ms, until_ms=until_ms,
            search=search, after=after, newest_first=newest_first, limit=limit,
        )  # fmt: skip
        return await self._find_turns(wanted, results=True)

    @abc.abstractmethod
    async def count_turns(self) -> int:
        """How many turns the engine keeps (one count query: the change feed's measure of turns
        started, even those that ended between two reads)."""

    async def live_turns(self, *, session_id: str | None = None, limit: int = 1000) -> list[TurnInfo]:
        """The turns not ended, oldest first, without outcomes: what the inbox and the change
        feed read (a query the engine narrows to its running executions)."""
        wanted = TurnFilter.of(
            session_id=session_id, status=None, name=None, since_ms=None, until_ms=None,
            search=None, after=None, newest_first=False, limit=limit, live=True,
        )  # fmt: skip
        return await self._find_turns(wanted, results=False)

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnInfo]:
        """Turns in creation order, filtered by session and status."""
        found = await self.query_turns(
            session_id=session_id, status=status, newest_first=False, limit=offset + limit
        )
        return found[offset:]

    async def run_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> Any:
        handle = await self.start_turn(fn_or_name, session_id=session_id, turn_id=turn_id, input=input)
        return await handle.result()

    # -- lifetime ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise EffectHostError(ErrorCode.HOST_CLOSED, "the host closed while a wait was parked on it")

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def offer_stop(
    resolve: Callable[[AwaitEventKey, Resolution], Any],
    key: AwaitEventKey,
    cancel: CancelToken,
    deadline: float | None,
) -> bool:
    """A wait awaited outside the engine: once ``cancel`` is set or ``deadline`` has passed,
    publish ``Cancelled``/``Timeout`` through ``resolve`` (first writer wins) and answer True.
    A turn-control wait never publishes: its waiter stops with an error instead."""
    control = key.wait.is_turn_control
    if cancel.cancelled:
        if control:
            raise EffectHostError(ErrorCode.TURN_CONTROL_WAIT_CANCELLED, "turn-control wait cancelled")
        await resolve(key, Resolution.CANCELLED)
        return True
    if deadline is not None and time.monotonic() >= deadline:
        if control:
            raise EffectHostError(ErrorCode.TURN_CONTROL_WAIT_TIMEOUT, "turn-control wait timed out")
        await resolve(key, Resolution.TIMEOUT)
        return True
    return False
