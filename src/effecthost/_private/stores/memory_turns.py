"""Turn records of a ``memory://`` substrate: a dict under the substrate's lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..awaits.hub import Subscription, WakeHub
from ..lifecycle.model import TurnRecord, TurnStatus, is_runnable, next_wake_ms, topics_for
from ..lifecycle.query import TurnQuery, matches, order_key
from ..lifecycle.store import Change


class MemoryTurnStore:
    def __init__(self, hub: WakeHub, lock: threading.RLock) -> None:
        self._records: dict[tuple[str, str], TurnRecord] = {}
        self._hub = hub
        self._lock = lock

    def _publish(self, before: TurnRecord | None, after: TurnRecord) -> None:
        for topic in topics_for(before, after):
            self._hub.notify_key(topic)

    async def insert(self, record: TurnRecord, *, durable: bool = True) -> TurnRecord:
        with self._lock:
            existing = self._records.get((record.session_id, record.turn_id))
            if existing is not None:
                return existing
            self._records[(record.session_id, record.turn_id)] = record
        self._publish(None, record)
        return record

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        with self._lock:
            return self._records.get((session_id, turn_id))

    async def update(
        self, session_id: str, turn_id: str, change: Change, *, durable: bool = True
    ) -> TurnRecord | None:
        with self._lock:
            before = self._records.get((session_id, turn_id))
            if before is None:
                return None
            after = change(before)
            if after is None:
                return before
            self._records[(session_id, turn_id)] = after
        self._publish(before, after)
        return after

    async def claim_runnable(
        self, names: Sequence[str] | None, now_ms: int, limit: int, change: Change
    ) -> list[TurnRecord]:
        wanted = None if names is None else set(names)
        written: list[tuple[TurnRecord, TurnRecord]] = []
        with self._lock:
            candidates = sorted(
                (
                    r
                    for r in self._records.values()
                    if (wanted is None or r.name in wanted) and is_runnable(r, now_ms)
                ),
                key=_order,
            )
            for before in candidates[: max(limit, 0)]:
                after = change(before)
                if after is not None:
                    self._records[(before.session_id, before.turn_id)] = after
                    written.append((before, after))
        for before, after in written:
            self._publish(before, after)
        return [after for _, after in written]

    async def next_wake_ms(self, names: Sequence[str] | None) -> int | None:
        wanted = None if names is None else set(names)
        with self._lock:
            times = [
                t
                for r in self._records.values()
                if (wanted is None or r.name in wanted) and (t := next_wake_ms(r)) is not None
            ]
        return min(times, default=None)

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnRecord]:
        with self._lock:
            found = [
                r
                for r in self._records.values()
                if (session_id is None or r.session_id == session_id)
                and (status is None or r.status is status)
            ]
        found.sort(key=_order)
        return found[offset : offset + limit]

    async def query_turns(self, query: TurnQuery) -> list[TurnRecord]:
        with self._lock:
            found = [r for r in self._records.values() if matches(query, r)]
        found.sort(key=order_key, reverse=query.newest_first)
        return found[: max(query.limit, 0)]

    def watch(self, topic: str) -> Subscription:
        return self._hub.subscribe(topic, None)


def _order(record: TurnRecord) -> tuple[int, str, str]:
    return (record.created_at_ms, record.session_id, record.turn_id)
