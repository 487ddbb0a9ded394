"""What opening a substrate returns: its stores, what it can do beyond them, how to close it.

A substrate never builds a host. ``runtime.registry`` opens one per host (given the host's clock
and options) and assembles the host around it, so one clock and one set of options reach every
part. What a substrate offers beyond the Protocols every substrate implements is declared in
:class:`Capabilities`, never discovered by probing for methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..awaits.store import AwaitStore
from ..core.clock import Clock
from ..journal.store import JournalBrowser, JournalStore, LeaseHooks
from ..lifecycle.store import TurnStore


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a substrate offers beyond the store Protocols."""

    #: Hosts in other processes (or on other machines) opened on the same URL share it.
    shared_across_processes: bool = False
    #: It keeps a versioned schema that ``open`` migrates; its scheme can report the version
    #: without writing (``SchemeSpec.check_schema``).
    schema_migrations: bool = False


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """A schema version found on a substrate, read without writing. ``found`` is None when there
    is nothing yet (a file or schema that ``open`` would create)."""

    found: int | None
    current: int

    @property
    def pending(self) -> bool:
        return self.found is None or self.found < self.current


class Substrate:
    """One opened substrate, as one host sees it (hosts on one substrate share what is durable)."""

    def __init__(
        self,
        *,
        journal: JournalStore,
        browser: JournalBrowser,
        awaits: AwaitStore,
        turns: TurnStore | None = None,
        close: Callable[[], Awaitable[None]],
        capabilities: Capabilities = Capabilities(),
        lease_hooks: LeaseHooks | None = None,
    ) -> None:
        self.journal = journal
        self.browser = browser
        self.awaits = awaits
        #: Turn records (durable turns); None for a substrate that keeps none, whose hosts then
        #: refuse the turn API with ``turns_unsupported``.
        self.turns = turns
        self.capabilities = capabilities
        #: Raw lease updates for the lease-fencing conformance vectors, when the substrate has them.
        self.lease_hooks = lease_hooks
        self._close = close
        self._closed = False

    async def close(self) -> None:
        """Release what this host holds of the substrate (idempotent)."""
        if not self._closed:
            self._closed = True
            await self._close()


class OpenSubstrate(Protocol):
    def __call__(self, url: str, *, clock: Clock, options: dict[str, Any]) -> Awaitable[Substrate]: ...


@dataclass(frozen=True, slots=True)
class SchemeSpec:
    """How to open a substrate named by a URL scheme (and, if it keeps a schema, check it)."""

    open: OpenSubstrate
    check_schema: Callable[[str], Awaitable[SchemaStatus]] | None = None
