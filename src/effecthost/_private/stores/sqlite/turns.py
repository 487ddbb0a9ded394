"""The turn-record half of the SQLite substrate (``lifecycle.store.TurnStore``) on ``turn_records``.

Every write is one write transaction through :class:`Database`: read the row(s), ask the pure
``change`` what to write, write the whole row back. The rules live in ``lifecycle``; this module
does I/O only. After a commit that changed something, the wake-up topics of the change
(``lifecycle.model.topics_for``) go to this process's waiters through the shared :class:`WakeHub`
and to other processes' as ``k:<topic>`` hints through the :class:`WakeChannel`.

Which commits fsync (see :mod:`.durability`): an insert or an update may record what a caller is
told (a turn started, ended, was cancelled or resumed), so it is synced like an outcome; a claim is
lease bookkeeping — a power loss that takes it away leaves the turn runnable again, as an expired
lease would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...awaits.hub import Subscription, WakeHub
from ...core.errors import EffectHostError, ErrorCode
from ...lifecycle.model import COLUMNS, TurnRecord, TurnStatus, record_from_row, record_to_row, topics_for
from ...lifecycle.query import TurnQuery, sql_where
from ...lifecycle.store import Change
from .db import Database
from .durability import Durability
from .schema import TURN_LIVE, TURN_WAKE_AT
from .wake import WakeChannel

_STORE = ErrorCode.SQLITE_TURN_STORE.value

_KEY = ("session_id", "turn_id")
_COLUMNS = ", ".join(COLUMNS)
_SELECT = f"SELECT {_COLUMNS} FROM turn_records"
_INSERT = (
    f"INSERT INTO turn_records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    " ON CONFLICT(session_id, turn_id) DO NOTHING"
)
# Every column but the key (a change never moves a record to another key; see _write).
_VALUE_COLUMNS = tuple(c for c in COLUMNS if c not in _KEY)
_UPDATE = (
    f"UPDATE turn_records SET {', '.join(f'{c} = ?' for c in _VALUE_COLUMNS)}"
    " WHERE session_id = ? AND turn_id = ?"
)
_VALUE_INDEXES = tuple(COLUMNS.index(c) for c in _VALUE_COLUMNS)
_ORDER = " ORDER BY created_at_ms, session_id, turn_id"
#: ``lifecycle.model.is_runnable``: not ended, and held on a lease that has expired (a held row's
#: wake time is its lease's expiry), or unheld and pending (whatever the clock), or unheld and due.
_RUNNABLE = f"{TURN_LIVE} AND (({TURN_WAKE_AT}) <= ? OR (owner = '' AND status = 'pending'))"


def claim_sql(where: str) -> str:
    """The claim's SELECT, given the name filter term; parameters: now, names, limit, names,
    limit, limit.

    Two index range scans, not a walk over every live turn: with thousands parked on waits that
    only an event ends, a walk read them all on every claim (a resumed turn waited ~30 ms for its
    claim with 10,000 parked). turn_records_wake holds each live turn under the time it becomes
    runnable (a held one's lease expiry, a pending one's creation, a parked one's due time; NULL,
    so out of the range, for a wait without a deadline); pending turns are added from the status
    index whatever the clock says, as ``is_runnable`` has it. The union is exactly the runnable
    set (:data:`_RUNNABLE`); its oldest ``limit`` are claimed.
    """
    return (
        f"SELECT * FROM (SELECT {_COLUMNS} FROM turn_records INDEXED BY turn_records_wake"
        f" WHERE {TURN_LIVE} AND ({TURN_WAKE_AT}) <= ?{where}{_ORDER} LIMIT ?)"
        f" UNION SELECT * FROM (SELECT {_COLUMNS} FROM turn_records"
        f" WHERE status = 'pending' AND owner = ''{where}{_ORDER} LIMIT ?)"
        f"{_ORDER} LIMIT ?"
    )


def _record(row: tuple[object, ...]) -> TurnRecord:
    try:
        return record_from_row(row)
    except (ValueError, TypeError) as exc:
        raise EffectHostError(_STORE, f"turn_records holds a row effecthost cannot read ({exc})") from None


def _names(names: Sequence[str] | None) -> tuple[str, tuple[object, ...]]:
    """A WHERE term (with a leading AND) for the name filter, and its parameters."""
    if names is None:
        return "", ()
    wanted = tuple(names)
    return f" AND name IN ({', '.join('?' for _ in wanted)})", wanted


def _write(conn: sqlite3.Connection, before: TurnRecord, after: TurnRecord) -> None:
    """Write ``after`` over the row of ``before``: every column of the record."""
    if (after.session_id, after.turn_id) != (before.session_id, before.turn_id):
        raise EffectHostError(_STORE, "a turn change may not move a record to another (session, turn)")
    row = record_to_row(after)
    conn.execute(_UPDATE, (*(row[i] for i in _VALUE_INDEXES), before.session_id, before.turn_id))


class SqliteTurnStore:
    def __init__(self, db: Database, durability: Durability, hub: WakeHub, channel: WakeChannel) -> None:
        self._db = db
        self._durability = durability
        self._hub = hub
        self._channel = channel

    def _publish(self, changes: Sequence[tuple[TurnRecord | None, TurnRecord]]) -> None:
        """After the commit: wake this process's watchers, then send the hints to the others."""
        topics = list(dict.fromkeys(t for before, after in changes for t in topics_for(before, after)))
        for topic in topics:
            self._hub.notify_key(topic)
        self._channel.publish([f"k:{topic}" for topic in topics])

    async def insert(self, record: TurnRecord, *, durable: bool = True) -> TurnRecord:
        def op(conn: sqlite3.Connection) -> tuple[TurnRecord, bool]:
            if conn.execute(_INSERT, record_to_row(record)).rowcount == 1:
                return record, True
            found = conn.execute(
                f"{_SELECT} WHERE session_id = ? AND turn_id = ?", (record.session_id, record.turn_id)
            ).fetchone()
            if found is None:  # only a conflict on the key keeps a row out
                raise EffectHostError(_STORE, "turn_records refused a turn it does not hold")
            return _record(found), False

        sync = self._durability.outcomes if durable else self._durability.leases
        stored, inserted = await self._db.write(op, durable=sync, error_code=_STORE)
        if inserted:
            self._publish([(None, stored)])
        return stored

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        def op(conn: sqlite3.Connection) -> TurnRecord | None:
            found = conn.execute(
                f"{_SELECT} WHERE session_id = ? AND turn_id = ?", (session_id, turn_id)
            ).fetchone()
            return None if found is None else _record(found)

        return await self._db.read(op, error_code=_STORE)

    async def update(
        self, session_id: str, turn_id: str, change: Change, *, durable: bool = True
    ) -> TurnRecord | None:
        def op(conn: sqlite3.Connection) -> tuple[TurnRecord | None, TurnRecord | None]:
            found = conn.execute(
                f"{_SELECT} WHERE session_id = ? AND turn_id = ?", (session_id, turn_id)
            ).fetchone()
            if found is None:
                return None, None
            before = _record(found)
            after = change(before)
            if after is None:
                return before, None
            _write(conn, before, after)
            return before, after

        sync = self._durability.outcomes if durable else self._durability.leases
        before, after = await self._db.write(op, durable=sync, error_code=_STORE)
        if after is None:
            return before
        self._publish([(before, after)])
        return after

    async def claim_runnable(
        self, names: Sequence[str] | None, now_ms: int, limit: int, change: Change
    ) -> list[TurnRecord]:
        where, params = _names(names)
        sql = claim_sql(where)

        def op(conn: sqlite3.Connection) -> list[tuple[TurnRecord | None, TurnRecord]]:
            n = max(limit, 0)
            rows = conn.execute(sql, (now_ms, *params, n, *params, n, n)).fetchall()
            written: list[tuple[TurnRecord | None, TurnRecord]] = []
            for row in rows:
                before = _record(row)
                after = change(before)
                if after is not None:
                    _write(conn, before, after)
                    written.append((before, after))
            return written

        written = await self._db.write(op, durable=self._durability.leases, error_code=_STORE)
        if written:
            self._publish(written)
        return [after for _, after in written]

    async def next_wake_ms(self, names: Sequence[str] | None) -> int | None:
        where, params = _names(names)
        # min() over turn_records_wake: the index's first entry (with names: its first that matches).
        sql = f"SELECT min({TURN_WAKE_AT}) FROM turn_records WHERE {TURN_LIVE}{where}"

        def op(conn: sqlite3.Connection) -> int | None:
            found = conn.execute(sql, params).fetchone()
            return None if found is None or found[0] is None else int(found[0])

        return await self._db.read(op, error_code=_STORE)

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnRecord]:
        terms: list[str] = []
        params: list[object] = []
        if session_id is not None:
            terms.append("session_id = ?")
            params.append(session_id)
        if status is not None:
            terms.append("status = ?")
            params.append(str(status))
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        sql = f"{_SELECT}{where}{_ORDER} LIMIT ? OFFSET ?"

        def op(conn: sqlite3.Connection) -> list[TurnRecord]:
            cursor = conn.execute(sql, (*params, max(limit, 0), max(offset, 0)))
            return [_record(row) for row in cursor.fetchall()]

        return await self._db.read(op, error_code=_STORE)

    async def query_turns(self, query: TurnQuery) -> list[TurnRecord]:
        """Operators' listing (``lifecycle.query``): filters, keyset paging, either direction."""
        tail, params = sql_where(query, "?")
        sql = _SELECT + tail

        def op(conn: sqlite3.Connection) -> list[TurnRecord]:
            return [_record(row) for row in conn.execute(sql, params).fetchall()]

        return await self._db.read(op, error_code=_STORE)

    def watch(self, topic: str) -> Subscription:
        # Listen before the caller first reads: a change committed by another process after this
        # point reaches us as a hint.
        self._channel.listen()
        return self._hub.subscribe(topic, None)
