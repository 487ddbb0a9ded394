"""The durable host: a journal store and an await store of one substrate behind the host API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..awaits.store import AwaitStore
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.identity import ExecutionScope
from ..core.protocols import JournalRetirement, ScopedController
from ..journal.model import JournalStore
from .awaiting import AwaitingHost
from .controller import JournalController, LeaseTimings, new_owner_id
from .leases import LeaseKeeper

DEFAULT_LEASE_TTL_MS = 30_000


class DurableEffectHost(AwaitingHost):
    """Hands out :class:`JournalController` s; two hosts on one substrate share everything durable."""

    def __init__(
        self,
        journal: JournalStore,
        awaits: AwaitStore,
        *,
        url: str = "",
        clock: Clock = SYSTEM_CLOCK,
        lease: LeaseTimings | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(awaits)
        self.journal = journal
        self.url = url
        self.clock = clock
        self.lease = lease or LeaseTimings(DEFAULT_LEASE_TTL_MS)
        self.leases = LeaseKeeper(journal, clock, self.lease)
        self.owner_id = new_owner_id()
        self.strict = False
        self.stats_executed = 0
        self.stats_replayed = 0
        self._on_close = on_close

    @property
    def supports_durable_effects(self) -> bool:
        return True

    @property
    def backend(self) -> str:
        return self.journal.backend

    def start_replay(self) -> None:
        """Strict replay for every controller this host hands out (missing row → error)."""
        self.strict = True

    def controller(self, scope: ExecutionScope) -> JournalController:
        self._check_open()
        return JournalController(self, ExecutionScope.require(scope))

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return ScopedController.shared(self.controller(scope), scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self.scoped(scope)

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        self._check_open()
        if retirement.kind == "session":
            assert retirement.session_id is not None
            return await self.journal.retire_session(retirement.session_id)
        assert retirement.scope is not None
        return await self.journal.retire_scope(retirement.scope.journal_key())

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.leases.close()
        self._awaits.close()  # parked waits end with host_closed before the substrate goes away
        if self._on_close is not None:
            await self._on_close()
