"""The journal's hot statements, sent straight through libpq (psycopg's ``pq`` layer).

Why: a journaled effect is two statements (the claim and the finalize), and psycopg's cursor
machinery (query conversion, dumpers, the prepare manager, its generator-based wait) cost ~50 µs
of client CPU per statement here, as much as the loopback round trip itself. The same statements
sent as named prepared statements through the connection's ``PGconn`` cost ~110 µs less per
effect (measured on this VM, alternating runs, 2026-11-24).

What stays psycopg's: the connection and its pool, the connection's state (``broken``,
``transaction_status``), and the error classes (``psycopg.errors.lookup`` by SQLSTATE), so the
store's error handling is the same for both paths.

Rules for callers: the connection is borrowed for the caller alone, idle and in autocommit, so a
statement is its own implicit transaction; it is left idle again unless the connection broke or
the caller was cancelled mid-statement (then it is not idle and the pool discards it on check-in).
Parameters are ``str``, ``int`` or ``None`` and travel as text, as do the results.
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg import AsyncConnection, pq

Param = str | int | None

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_BAD = pq.ConnStatus.BAD
_SQLSTATE = pq.DiagnosticField.SQLSTATE
_UNKNOWN_STATEMENT = "26000"  # invalid_sql_statement_name: the server has no such prepared name

#: The names prepared on each live connection. A closed connection's set goes with it; a new
#: connection (the pool replaces broken ones) starts empty.
_prepared: weakref.WeakKeyDictionary[pq.abc.PGconn, set[bytes]] = weakref.WeakKeyDictionary()


class Statement:
    """One prepared statement: its name (``effecthost_*``, never psycopg's ``_pg3_*``) and text
    with ``$n`` placeholders (from a ``%s`` template, see :func:`numbered`)."""

    __slots__ = ("name", "text")

    def __init__(self, name: str, template: bytes) -> None:
        self.name = ("effecthost_" + name).encode()
        self.text = numbered(template)


def numbered(template: bytes) -> bytes:
    """``%s`` placeholders as ``$1``, ``$2``, ... (the templates hold no other ``%``)."""
    parts = template.split(b"%s")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out += [b"$%d" % n, part]
    return b"".join(out)


class Watch:
    """A reader kept registered on one idle, parked connection's socket between statements.

    Registering and unregistering a reader for every statement (two ``epoll_ctl`` calls and
    asyncio's bookkeeping) cost ~7 µs per statement here. The owner (the parked-connection logic
    in ``Database``) must :meth:`stop` the watch before anything else uses or closes the
    connection: psycopg's own waits register the same socket, and a closed socket's number can
    be reused by the next connection.
    """

    __slots__ = ("_fd", "_loop", "_waiter", "conn")

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self._loop = asyncio.get_running_loop()
        self._fd = conn.pgconn.socket
        self._waiter: asyncio.Future[None] | None = None
        self._loop.add_reader(self._fd, self._readable)

    @property
    def active(self) -> bool:
        return self._fd >= 0

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        elif select.select([self._fd], [], [], 0)[0]:
            # Readable with no statement in flight: the server sent something unasked (a
            # terminated backend's FATAL, EOF). Stop, or a level-triggered selector would call
            # this on every loop turn; the next checkout finds the socket readable and replaces
            # the connection. (Not readable: a wake-up queued in the same loop turn in which the
            # statement's task had already read the answer.)
            self.stop()

    async def readable(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def stop(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._fd = -1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            # A statement still waiting (the host closing under it): wake it; it finds the watch
            # stopped and waits on the socket by itself.
            waiter.set_result(None)


async def execute(
    conn: AsyncConnection[Any],
    statement: Statement,
    params: Sequence[Param],
    watch: Watch | None = None,
) -> pq.abc.PGresult:
    """Run ``statement`` with ``params`` and return its result; a failed statement raises the
    psycopg error of its SQLSTATE (a lost connection: ``psycopg.OperationalError``). ``watch``:
    the connection's :class:`Watch`, if it has one."""
    pgconn = conn.pgconn
    values = _encode(params)
    names = _prepared.get(pgconn)
    if names is None:
        names = _prepared[pgconn] = set()
    if statement.name not in names:
        await _prepare(pgconn, statement, names, watch)
    pgconn.send_query_prepared(statement.name, values)
    result = await _result(pgconn, watch)
    if result.status in _OK:
        return result
    if result.error_field(_SQLSTATE) == _UNKNOWN_STATEMENT.encode():
        # Deallocated behind our back (DISCARD ALL, a pooler): prepare again, once.
        names.discard(statement.name)
        await _prepare(pgconn, statement, names, watch)
        pgconn.send_query_prepared(statement.name, values)
        result = await _result(pgconn, watch)
        if result.status in _OK:
            return result
    raise _error(pgconn, result)


def _encode(params: Sequence[Param]) -> list[bytes | None]:
    try:
        return [
            None if p is None else p.encode() if isinstance(p, str) else str(p).encode() for p in params
        ]
    except UnicodeEncodeError as exc:  # a lone surrogate: psycopg raises DataError for it too
        raise psycopg.DataError(f"cannot encode a parameter as UTF-8: {exc}") from None


async def _prepare(
    pgconn: pq.abc.PGconn, statement: Statement, names: set[bytes], watch: Watch | None
) -> None:
    pgconn.send_prepare(statement.name, statement.text)
    result = await _result(pgconn, watch)
    if result.status not in _OK:
        raise _error(pgconn, result)
    names.add(statement.name)


async def _result(pgconn: pq.abc.PGconn, watch: Watch | None) -> pq.abc.PGresult:
    """Flush the request, then read until libpq has the whole answer; the last result.

    With an active ``watch`` every read wait goes through it: registering a reader of our own
    on the same socket would replace the watch's, and removing it would unregister both.
    (A writer on the same socket is fine: asyncio keeps the reader.)"""
    while pgconn.flush():  # the socket is full: wait until it can take the rest
        await _ready(pgconn.socket, write=True)
    result: pq.abc.PGresult | None = None
    while True:
        while pgconn.is_busy():
            if watch is not None and watch.active:
                await watch.readable()
            else:
                await _ready(pgconn.socket, write=False)
            pgconn.consume_input()
        got = pgconn.get_result()
        if got is None:
            break
        result = got
    if result is None:  # no answer at all: only a connection that failed midway gives none
        raise psycopg.OperationalError(_message(pgconn.error_message) or "no result from the server")
    return result


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _ready(fd: int, *, write: bool) -> None:
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    if write:
        loop.add_writer(fd, _wake, waiter)
        try:
            await waiter
        finally:
            loop.remove_writer(fd)
    else:
        loop.add_reader(fd, _wake, waiter)
        try:
            await waiter
        finally:
            loop.remove_reader(fd)


def _message(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace").strip()


def _error(pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> psycopg.Error:
    """The psycopg error for a failed result, carrying the result (``exc.diag``) as psycopg's own do."""
    message = _message(result.error_message) or _message(pgconn.error_message) or "statement failed"
    if pgconn.status == _BAD:
        return psycopg.OperationalError(message, info=result)
    sqlstate = result.error_field(_SQLSTATE)
    if sqlstate is None:
        return psycopg.DatabaseError(message, info=result)
    try:
        return psycopg.errors.lookup(sqlstate.decode())(message, info=result)
    except KeyError:  # a SQLSTATE newer than this psycopg
        return psycopg.DatabaseError(message, info=result)
