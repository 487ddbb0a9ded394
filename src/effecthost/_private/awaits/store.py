"""The await-event half of a substrate (spec 5.4 atoms) and the wake-up hub.

Rows are the source of truth; wake-ups are only latency hints. A store implements the atoms, each
atomic on its substrate, and publishes wake-ups *after* its commit through its :class:`WakeHub`
(and, for multi-process substrates, across processes). A wake-up names a key or a session and
carries nothing else: whoever can send one (any role that may ``NOTIFY``, any process that reaches
a wake socket) can only make a waiter read its row again, never hand it an answer.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from .hub import WakeHub


@dataclass(frozen=True, slots=True)
class PromiseIdentity:
    """What a promise row must match: all four or the row is someone else's (unknown_or_revoked)."""

    scope_json: str
    wait_json: str
    session_id: str | None
    turn_control: bool


class Inspection(enum.Enum):
    MISSING = "missing"
    PENDING = "pending"
    RESOLVED = "resolved"
    UNKNOWN_OR_REVOKED = "unknown_or_revoked"


class StoreResult(enum.Enum):
    STORED = "stored"
    ALREADY_RESOLVED = "already_resolved"
    UNKNOWN_OR_REVOKED = "unknown_or_revoked"


@dataclass(frozen=True, slots=True)
class PendingPromise:
    key_id: str
    scope_json: str
    wait_json: str


#: Who is resolving, for the record (``await_event_waits.resolved_by``): an operator token's name,
#: "webhook", ... Set around a resolve or a bulk cancel by the host methods that take
#: ``resolved_by=``; a store writes it next to the terminal it stores (None: not said). A context
#: variable, so that the AwaitStore Protocol and the interceptor chain keep their signatures.
RESOLVED_BY: ContextVar[str | None] = ContextVar("effecthost_resolved_by", default=None)


@dataclass(frozen=True, slots=True)
class AwaitRecord:
    """One promise row as operators see it: pending (``terminal_json`` None) or resolved, and by
    whom and when."""

    key_id: str
    scope_json: str
    wait_json: str
    session_id: str | None
    turn_control: bool
    terminal_json: str | None
    created_at_ms: int
    resolved_at_ms: int | None
    resolved_by: str | None


class AwaitStore(Protocol):
    @property
    def hub(self) -> WakeHub:
        """In-process wake-ups for this substrate (shared by every host object on it)."""
        ...

    async def signing_secret(self) -> bytes:
        """The substrate's secret (created once, persisted by durable stores)."""
        ...

    async def is_revoked(self, session_id: str) -> bool: ...

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        """Register a waiter's promise: revoked → False; row exists → identity matches; else insert."""
        ...

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        """First writer wins. Returns (STORED, None) | (ALREADY_RESOLVED, first_json) | (UNKNOWN…, None)."""
        ...

    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]: ...

    async def revoke_session(self, session_id: str) -> None:
        """Permanent tombstone; deletes the session's promises; wakes their waiters."""
        ...

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        """Pending, non-turn-control promises of the session get ``cancelled``; returns how many."""
        ...

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        """Registered, unresolved promises (parked waiters) of the session."""
        ...


class AwaitRecords(Protocol):
    """Optional: the promise rows for operators (the inbox, who resolved a wait). The first-party
    stores have it; a host on a store without it answers these listings with ``unsupported``."""

    async def list_records(
        self, session_id: str | None, pending: bool, limit: int, after: tuple[int, str] | None
    ) -> list[AwaitRecord]:
        """Rows of one session (or all), only unresolved ones when ``pending``, in the order
        ``(created_at_ms, key_id)``, those after the keyset cursor ``after``, at most ``limit``."""
        ...
