"""The turn-record half of a substrate, as one Protocol.

Like the journal's ``claim``, every write is one short transaction in which the store reads the
record, asks a pure ``change`` function (:mod:`.transitions`) what to write, writes it, commits,
and only then publishes wake-ups (:func:`.model.topics_for`). A store never decides anything
itself, so memory, SQLite, PostgreSQL and third-party stores cannot drift apart in their rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from .model import TurnRecord, TurnStatus

#: A pure transition: the record read → the record to write, or None to write nothing.
Change = Callable[[TurnRecord], TurnRecord | None]


class Watch(Protocol):
    """A subscription to one wake-up topic; ``event`` is set when something may have changed."""

    @property
    def event(self) -> asyncio.Event: ...

    def close(self) -> None: ...


class TurnStore(Protocol):
    async def insert(self, record: TurnRecord, *, durable: bool = True) -> TurnRecord:
        """Insert ``record`` unless (session, turn) exists; return what is stored (the new record
        or the existing one, unchanged). Publishes :func:`topics_for` ``(None, record)`` on insert.
        ``durable=False``: as for :meth:`update` (``run_turn`` inserting the turn it drives)."""
        ...

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None: ...

    async def update(
        self, session_id: str, turn_id: str, change: Change, *, durable: bool = True
    ) -> TurnRecord | None:
        """One transaction: read the record, write ``change(record)`` unless it is None; return the
        record as stored afterwards, or None when there is no such turn.

        ``durable=False`` marks lease bookkeeping (a claim, a renewal, a park, a wake-up): a store
        may commit it without waiting for the disk, as it does the journal's claims. A power loss
        may then undo it, and the turn is re-claimed and re-driven exactly as after a lease expiry.
        What a caller is told (an end, a cancel request, a resume) is always durable."""
        ...

    async def claim_runnable(
        self, names: Sequence[str] | None, now_ms: int, limit: int, change: Change
    ) -> list[TurnRecord]:
        """One transaction: up to ``limit`` turns that :func:`.model.is_runnable` at ``now_ms``
        (named in ``names``, or any name for None), oldest first, each written as
        ``change(record)``; returns the records written. Concurrent claimers never get the same
        turn (PostgreSQL: row locks skipped, not waited on)."""
        ...

    async def next_wake_ms(self, names: Sequence[str] | None) -> int | None:
        """The earliest :func:`.model.next_wake_ms` among the turns (None when no turn will ever
        become runnable by time alone)."""
        ...

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnRecord]:
        """Turns in the order ``(created_at_ms, session_id, turn_id)``, filtered."""
        ...

    def watch(self, topic: str) -> Watch:
        """Wake-ups for ``topic`` published by this process or any other on the substrate (a
        cross-process substrate starts listening when first asked)."""
        ...
