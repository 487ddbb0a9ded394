"""The connection pool and the one place where driver errors become coded errors.

Every store call borrows a pooled connection for one short statement or transaction. Reads are
idempotent, so a read that fails on a dead connection is retried once on a fresh one; writes are
not retried blindly (a commit may have landed before the connection died) and surface as
``postgres_effect_replay_store`` / ``postgres_await_event_store``.
"""

from __future__ import annotations

import json
import select
from collections.abc import Awaitable, Callable, Sequence
from typing import LiteralString, TypeVar

import psycopg
from psycopg import AsyncConnection, pq, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ...core.errors import EffectHostError, ErrorCode
from .config import PostgresOptions
from .wire import Param, Statement, Watch, execute

T = TypeVar("T")
Conn = AsyncConnection[TupleRow]

#: The lease clock (spec 7.3): every stamp and comparison uses the database's transaction time, so
#: workers whose clocks disagree still agree on who holds a lease.
NOW_MS = "floor(extract(epoch FROM transaction_timestamp()) * 1000)::bigint"

_BAD = pq.ConnStatus.BAD
_IDLE = pq.TransactionStatus.IDLE


def looks_dead(conn: Conn) -> bool:
    """A check on checkout that costs a syscall, not a round trip.

    An idle connection has nothing to read. A terminated backend leaves a FATAL message or EOF on
    the socket, so a readable socket means the connection is dead (or at least not idle).
    """
    if conn.pgconn.status == _BAD:  # closed, or broken
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


class Database:
    """One pool over one schema. ``q`` renders a query template with the schema quoted."""

    def __init__(self, pool: AsyncConnectionPool[Conn], options: PostgresOptions) -> None:
        self.pool = pool
        self.options = options
        self._schema = sql.Identifier(options.schema)
        # The last connection used, kept out of the pool while nobody else wants one: a turn
        # driven one effect at a time then never goes through the pool, whose getconn/putconn
        # cost ~110,000 instructions per journaled effect (two store calls), ~15 % of the client.
        self._parked: Conn | None = None
        # The parked connection's socket stays registered with the event loop between hot
        # statements (see wire.Watch); started by ``run`` when it is the only caller in flight,
        # stopped before psycopg itself or the pool gets the connection. At most one.
        self._watch: Watch | None = None
        self._in_flight = 0  # callers between checkout and check-in, waiting ones included
        self._closing = False

    @classmethod
    async def open(cls, options: PostgresOptions) -> Database:
        await _probe(options)
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            options.conninfo,
            min_size=options.pool_min_size,
            max_size=options.pool_max_size,
            # client_encoding: the hot statements (wire.py) send and read text as UTF-8 whatever
            # the database's encoding is; the server converts, as it does for psycopg.
            kwargs={
                "autocommit": True,
                "application_name": options.application_name,
                "client_encoding": "UTF8",
            },
            open=False,
            name=options.application_name,
            timeout=options.connect_timeout_s,
            # The pool retries a failed (re)connection with backoff 1 s, 2 s, 4 s, ... for up to
            # reconnect_timeout (default 5 min), so after an outage of T seconds it could wait ~T
            # more seconds once the server is back while every caller times out. Attempts that give
            # up after half a caller's wait keep the gap short: a getconn with no attempt under way
            # starts a new one at once, so calls succeed again as soon as the server is back.
            reconnect_timeout=options.connect_timeout_s / 2,
        )
        try:
            await pool.open(wait=True, timeout=options.connect_timeout_s)
        except psycopg.Error as exc:
            await pool.close()
            raise EffectHostError(
                ErrorCode.POSTGRES_EFFECT_REPLAY_STORE, f"cannot connect to PostgreSQL: {exc}"
            ) from None
        return cls(pool, options)

    async def close(self) -> None:
        self._closing = True
        self._unwatch()
        parked, self._parked = self._parked, None
        if parked is not None:
            if self.pool.closed:
                await parked.close()
            else:
                await self.pool.putconn(parked)
        await self.pool.close()

    def q(self, template: LiteralString) -> bytes:
        """Render ``{s}`` as the quoted schema; the result is cached by callers as bytes."""
        return sql.SQL(template).format(s=self._schema).as_bytes(None)

    def _unwatch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    async def _checkout(self, *, wire: bool = False) -> Conn:
        """A connection for one caller: the parked one when it is alive, else one from the pool.
        ``wire``: the caller only runs ``wire`` statements, so the parked connection's watch may
        stay; anyone else gets the socket to themselves."""
        parked, self._parked = self._parked, None
        if parked is not None:
            if not self.pool.closed and not looks_dead(parked):
                if not wire:
                    self._unwatch()
                return parked
            self._unwatch()
            await parked.close()
            if not self.pool.closed:
                await self.pool.putconn(parked)  # the pool replaces a closed connection
        # After a backend was terminated every idle connection may be dead; closing one makes the
        # pool replace it when it is put back. (psycopg_pool's own ``check`` hook costs more.)
        for _ in range(self.options.pool_max_size):
            conn = await self.pool.getconn()
            if not looks_dead(conn):
                return conn
            await conn.close()
            await self.pool.putconn(conn)
        return await self.pool.getconn()

    def raw_connection(self) -> Borrowed:
        """A checked pooled connection; driver errors pass through unchanged."""
        return Borrowed(self, None)

    async def _check_in(self, conn: Conn) -> None:
        """Park the connection when nobody else is waiting for one and it is clean; otherwise give
        it back to the pool, which hands it to a waiter, rolls back or discards a connection left
        inside a transaction (an error mid-pipeline) and replaces a broken one."""
        if (
            self._in_flight == 0
            and self._parked is None
            and not self._closing
            and conn.pgconn.transaction_status == _IDLE  # so not broken either
        ):
            self._parked = conn
            if self._watch is not None and self._watch.conn is not conn:
                self._unwatch()
            return
        if self._watch is not None and self._watch.conn is conn:
            self._unwatch()
        await self.pool.putconn(conn)

    async def run(self, statement: Statement, params: Sequence[Param]) -> pq.abc.PGresult:
        """One hot statement (see ``wire``) on a borrowed connection; driver errors pass through,
        as with :meth:`raw_connection`. The borrow without a context manager object: this runs
        twice per journaled effect."""
        self._in_flight += 1
        try:
            conn = await self._checkout(wire=True)
        except BaseException:
            self._in_flight -= 1
            raise
        watch = self._watch
        if self._in_flight == 1 and (watch is None or watch.conn is not conn or not watch.active):
            # Alone in flight, so no other statement waits on the current watch: (re)start it
            # on this connection. Only hot statements start watches; psycopg-only traffic
            # (await events, reads) never pays for one.
            self._unwatch()
            watch = self._watch = Watch(conn)
        try:
            return await execute(conn, statement, params, watch if watch and watch.conn is conn else None)
        finally:
            self._in_flight -= 1
            await self._check_in(conn)

    def connection(self, code: str) -> Borrowed:
        """A pooled connection; driver errors inside the block become ``code``."""
        return Borrowed(self, code)

    async def read(self, code: str, body: Callable[[Conn], Awaitable[T]]) -> T:
        """Run an idempotent read; retry once when the connection itself failed."""
        try:
            async with self.raw_connection() as conn:
                return await body(conn)
        except PoolTimeout as exc:
            # No connection could be had at all: a retry would only double the caller's wait.
            raise store_error(code, exc) from None
        except psycopg.OperationalError:
            pass  # the pool discards the broken connection; a fresh one serves the retry
        except psycopg.Error as exc:
            raise store_error(code, exc) from None
        async with self.connection(code) as conn:
            return await body(conn)

    def check_payload(self, text: str | None, what: str, encode_code: str, *, parse: bool = True) -> None:
        """Size limit (``postgres_payload_too_large``) and JSON shape (``encode_code``).

        ``parse=False`` for texts written by ``canonical.dumps`` (valid JSON by construction, and
        with every control character escaped, so no NUL): parsing them again cost ~50,000
        instructions per journaled effect, ~6 % of the client's work.
        """
        if text is None:
            return
        limit = self.options.max_payload_bytes
        # len(str) ≤ len(utf-8 bytes) ≤ 4·len(str): encode only when the cheap bound is unsure.
        if len(text) > limit or (4 * len(text) > limit and len(text.encode("utf-8")) > limit):
            raise EffectHostError(
                ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE,
                f"{what} is larger than the {limit}-byte limit of this PostgreSQL host",
            )
        if not parse:
            return
        try:
            # strict parsing also rejects raw control characters, so no NUL reaches a text column
            json.loads(text)
        except ValueError as exc:
            raise EffectHostError(encode_code, f"{what} is not JSON: {exc}") from None


class Borrowed:
    """``async with`` a connection of a :class:`Database`: checked out on entry, checked in on
    exit; with a ``code``, driver errors (from the checkout, the block or the check-in) become
    that coded error. A class rather than ``@asynccontextmanager``: a store call enters two of
    these per journaled effect, and the generator machinery cost more than the rest of them."""

    __slots__ = ("_code", "_conn", "_db")

    def __init__(self, db: Database, code: str | None) -> None:
        self._db = db
        self._code = code
        self._conn: Conn | None = None

    async def __aenter__(self) -> Conn:
        db = self._db
        db._in_flight += 1
        try:
            self._conn = await db._checkout()
        except BaseException as exc:
            db._in_flight -= 1
            if self._code is not None and isinstance(exc, psycopg.Error):
                raise store_error(self._code, exc) from None
            raise
        return self._conn

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        db, conn = self._db, self._conn
        assert conn is not None
        self._conn = None
        db._in_flight -= 1
        try:
            await db._check_in(conn)
        except psycopg.Error as check_in_error:
            if self._code is None:
                raise
            raise store_error(self._code, check_in_error) from None
        if self._code is not None and isinstance(exc, psycopg.Error):
            raise store_error(self._code, exc) from None


#: libpq's connect_timeout is whole seconds and at least 2 (smaller values count as 2).
_PROBE_TIMEOUT_S = 2


async def _probe(options: PostgresOptions) -> None:
    """One direct connection before the pool opens: a wrong host, port, database or password
    fails here at once with the server's one-line reason, instead of the pool retrying in the
    background (logging each attempt) until its timeout and then saying only that it timed out."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            options.conninfo,
            autocommit=True,
            application_name=options.application_name,
            connect_timeout=max(_PROBE_TIMEOUT_S, min(int(options.connect_timeout_s), 10)),
        )
    except psycopg.Error as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise EffectHostError(
            ErrorCode.POSTGRES_EFFECT_REPLAY_STORE,
            f"cannot connect to PostgreSQL: {detail or type(exc).__name__}",
        ) from None
    await conn.close()


def store_error(code: str, exc: BaseException) -> EffectHostError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EffectHostError(code, f"PostgreSQL call failed ({type(exc).__name__}): {detail}")
