"""The durable host: one substrate's journal and await store behind the host API.

Assembled by :mod:`.registry` (``open_host``), which hands the same clock to the substrate and to
the host. Two hosts on one substrate share everything durable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..awaits.store import RESOLVED_BY
from ..core.await_values import AwaitEventKey
from ..core.clock import Clock
from ..core.errors import EffectHostError, ErrorCode
from ..core.identity import ExecutionScope, check_id
from ..core.protocols import JournalRetirement, ScopedController
from ..core.resolutions import Resolution, ResolveOutcome
from ..journal.model import JournalRow, LeaseTimings, ScopeSummary, SessionSummary
from ..journal.store import JournalBrowser, JournalStore
from ..lifecycle import transitions
from ..lifecycle.model import TurnStatus
from ..lifecycle.query import TurnCursor
from ..stores.base import Substrate
from .await_loop import AwaitCoordinator
from .awaiting import ComposedHost
from .controller import DriverContext, JournalController
from .interceptors import Interceptor
from .operators import AwaitEventRecord, list_await_records, query_turns
from .turn_control import DEFAULT_MAX_PAYLOAD_BYTES, DrivenTurn, TurnControl, TurnHandle, TurnInfo

DEFAULT_LEASE_TTL_MS = 30_000


class CheckedBrowser:
    """A substrate's :class:`JournalBrowser` behind the id rules: a session id or scope key that no
    store holds exactly (NUL, lone surrogates, ...) is refused with one code before any backend
    sees it, instead of a store error on one backend and an empty page on another."""

    def __init__(self, browser: JournalBrowser) -> None:
        self._browser = browser

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        if after is None:  # a browser written before keyset paging pages by offset only
            return await self._browser.list_sessions(limit, offset)
        check_id(after[1], "session id")
        return await self._browser.list_sessions(limit, offset, after=after)

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        if session_id is not None:
            check_id(session_id, "session id")
        return await self._browser.list_scopes(session_id)

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        check_id(scope_key, "scope key")
        if after is None:
            return await self._browser.list_effects(scope_key, limit, offset)
        check_id(after[2], "replay key")
        return await self._browser.list_effects(scope_key, limit, offset, after=after)

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        check_id(scope_key, "scope key")
        check_id(replay_key, "replay key")
        return await self._browser.get_row(scope_key, replay_key)

    async def retire_session(self, session_id: str) -> int:
        check_id(session_id, "session id")
        return await self._browser.retire_session(session_id)

    async def retire_scope(self, scope_key: str) -> int:
        check_id(scope_key, "scope key")
        return await self._browser.retire_scope(scope_key)


class DurableEffectHost(ComposedHost):
    """Hands out :class:`JournalController` s over one :class:`Substrate`."""

    def __init__(
        self,
        substrate: Substrate,
        *,
        url: str = "",
        clock: Clock,
        lease: LeaseTimings | None = None,
        interceptors: Iterable[Interceptor] = (),
        max_turn_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        super().__init__(AwaitCoordinator(substrate.awaits), interceptors)
        self.substrate = substrate
        self._browser = CheckedBrowser(substrate.browser)
        self.url = url
        self.clock = clock
        self.lease = lease or LeaseTimings(DEFAULT_LEASE_TTL_MS)
        self._context = DriverContext(substrate.journal, clock, self.lease, self.await_await_event)
        if any(interceptor.observes_effects() for interceptor in self._interceptors):
            self._context.chain = self._chain
        self.turns = TurnControl(self, substrate.turns, clock, max_turn_payload_bytes)

    @property
    def supports_durable_effects(self) -> bool:
        return True

    @property
    def journal(self) -> JournalStore:
        return self.substrate.journal

    @property
    def browser(self) -> JournalBrowser:
        """Sessions, scopes and rows of the journal, for operators (CLI, HTTP service). Ids and
        scope keys given to it follow the id rules on every backend (``invalid_id``)."""
        return self._browser

    @property
    def backend(self) -> str:
        return self.substrate.journal.backend

    @property
    def owner_id(self) -> str:
        """The lease owner this host's executions claim rows as."""
        return self._context.owner_id

    def start_replay(self) -> None:
        """Strict replay for every controller this host hands out (missing row → error)."""
        self._context.strict = True

    def controller(self, scope: ExecutionScope) -> JournalController:
        self._check_open()
        return JournalController(self._context, ExecutionScope.require(scope))

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return ScopedController.shared(self.controller(scope), scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self.scoped(scope)

    # durable turns: records here, driving in effecthost._private.turns (see turn_control)

    async def start_turn(
        self,
        fn_or_name: DrivenTurn | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> TurnHandle:
        """Record the turn (idempotent by session and turn id) for a worker to drive."""
        self._check_open()
        return await self.turns.start(fn_or_name, session_id, turn_id, input)

    async def run_turn(
        self, fn: DrivenTurn, *, session_id: str, turn_id: str, input: dict[str, Any] | None = None
    ) -> Any:
        """Start the turn (idempotently) and drive it here; return its result or raise its error.
        Called again after a crash, it finishes the same turn, replaying what was recorded."""
        self._check_open()
        return await fn.run_here(self, session_id=session_id, turn_id=turn_id, input=input)

    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None:
        self._check_open()
        record = await self.turns.get(session_id, turn_id)
        return None if record is None else TurnInfo.of(record)

    async def cancel_turn(self, session_id: str, turn_id: str) -> TurnInfo:
        self._check_open()
        return await self.turns.cancel(session_id, turn_id)

    async def resume_turn(self, session_id: str, turn_id: str) -> TurnHandle:
        self._check_open()
        return await self.turns.resume(session_id, turn_id)

    async def fork_turn(self, session_id: str, turn_id: str, *, new_turn_id: str, keep: int) -> TurnHandle:
        """Fork ``turn_id`` into ``new_turn_id``: the new turn takes the recorded outcomes of the
        first ``keep`` effects (program order) and runs the rest, for a worker or ``run_turn``."""
        self._check_open()
        return await self.turns.fork(session_id, turn_id, new_turn_id, keep)

    def turn_handle(self, session_id: str, turn_id: str) -> TurnHandle:
        """A handle on a turn started elsewhere (its result, its info)."""
        return TurnHandle(self.turns, session_id, turn_id)

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnInfo]:
        self._check_open()
        return await self.turns.list(session_id, status, limit, offset)

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
        """Turns for operators: filtered by session, status, name, start time (``since_ms`` <=
        started < ``until_ms``) and an exact session or turn id (``search``), newest first (or
        oldest), paged by keyset: ``after`` is the ``(created_at_ms, session_id, turn_id)`` of the
        previous page's last turn, so pages stay put while turns start."""
        self._check_open()
        return await query_turns(
            self.turns.store, session_id=session_id, status=status, name=name, since_ms=since_ms,
            until_ms=until_ms, search=search, after=after, newest_first=newest_first, limit=limit,
        )  # fmt: skip

    async def list_await_events(
        self,
        *,
        session_id: str | None = None,
        pending: bool = True,
        limit: int = 100,
        after: tuple[int, str] | None = None,
    ) -> list[AwaitEventRecord]:
        """Registered await events, of one session or all (the inbox: ``pending=True``, the
        default), oldest first, paged by keyset (``after``: the previous page's last
        ``record.cursor``); resolved ones say how, when and by whom."""
        self._check_open()
        return await list_await_records(
            self.substrate.awaits, await self.await_coordinator.secret(), session_id=session_id,
            pending=pending, limit=limit, after=after,
        )  # fmt: skip

    async def resolve_await_event(
        self, key: AwaitEventKey, resolution: Resolution, *, resolved_by: str | None = None
    ) -> ResolveOutcome:
        """As every host's; ``resolved_by`` (a name: an operator token's, "webhook") is recorded
        with the resolution when this call is the one that stands."""
        token = RESOLVED_BY.set(_who(resolved_by))
        try:
            outcome = await super().resolve_await_event(key, resolution)
        finally:
            RESOLVED_BY.reset(token)
        await self.turns.woken_by(key, outcome)
        return outcome

    async def cancel_await_events_for_session(self, session_id: str) -> None:
        await self.cancel_await_events(session_id)

    async def cancel_await_events(self, session_id: str, *, resolved_by: str | None = None) -> int:
        """Resolve the session's outstanding waits ``Cancelled`` (``resolved_by`` recorded, as for
        a resolve); how many this call cancelled."""
        self._check_open()
        token = RESOLVED_BY.set(_who(resolved_by))
        try:
            cancelled = await self._awaits.cancel_session(session_id)
        finally:
            RESOLVED_BY.reset(token)
        await self._wake_waiting_turns(session_id)
        return cancelled

    async def revoke_await_events_for_session(self, session_id: str) -> None:
        await super().revoke_await_events_for_session(session_id)
        await self._wake_waiting_turns(session_id)

    async def _wake_waiting_turns(self, session_id: str) -> None:
        """The session's suspended waits were answered in bulk: their turns run and find out."""
        store = self.substrate.turns
        if store is None:
            return
        now = self.clock.now_ms()
        offset = 0
        while page := await store.list_turns(
            session_id=session_id, status=TurnStatus.WAITING, limit=500, offset=offset
        ):
            for record in page:
                if not record.held and record.wait_key_id:
                    await store.update(
                        session_id, record.turn_id, transitions.wake(record.wait_key_id, now), durable=False
                    )
            offset += len(page)

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        self._check_open()
        if retirement.kind == "session":
            assert retirement.session_id is not None
            return await self.browser.retire_session(retirement.session_id)
        assert retirement.scope is not None
        return await self.browser.retire_scope(retirement.scope.journal_key())

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._context.closed = True
        self._context.leases.close()
        self._awaits.close()  # parked waits end with host_closed before the substrate goes away
        await self.substrate.close()

    def __repr__(self) -> str:
        return f"<DurableEffectHost {self.url or self.backend!r}>"


def _who(resolved_by: object) -> str | None:
    if resolved_by is not None and (not isinstance(resolved_by, str) or not resolved_by.strip()):
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "resolved_by is a non-empty name or None")
    if isinstance(resolved_by, str):
        check_id(resolved_by, "resolved_by")
    return resolved_by
