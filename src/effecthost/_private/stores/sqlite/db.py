"""One SQLite connection per (file, event loop) and the write path every store operation shares.

Why the loop thread: a journal write is a few sub-millisecond statements; handing it to a thread
costs more than running it. Each write is a synchronous function run inside ``BEGIN IMMEDIATE …
COMMIT`` with no ``await`` in between, so writes of one process never interleave and no transaction
is ever open while a local executor (or anything else) runs.

Why batches (group commit): writes requested during the same loop turn are run in ONE transaction
and share one commit (and one fsync). Every caller gets its result only after that commit, so the
guarantee is the same as one commit each. A ``SAVEPOINT`` per operation keeps one failing operation
from undoing the others.

Why a short busy timeout: another *process* may hold the write lock. SQLite's own busy handler
would sleep on the loop thread; we let it wait at most a few milliseconds and then retry the batch
asynchronously with backoff, so a long foreign transaction never freezes the loop.

Why a failed shared commit is split: when the COMMIT itself fails (SQLITE_FULL, an I/O error)
SQLite rolls the whole transaction back, and which operation needed the space cannot be told. Each
operation is then run again in its own transaction, so a write that cannot be stored fails alone
instead of failing every write that happened to share its commit.

Why debts (:meth:`Database.owe`): some writes must still happen after their caller has given up,
above all the release of a claim whose finalize failed. A disk that refused the finalize usually
refuses the release too, and a claim left behind with a live lease stalls every re-drive until the
lease expires. An owed write is retried after every later commit (proof that writes go through
again) and on a backing-off timer (for a process that writes nothing else), and once more before
the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...core.errors import EffectHostError, ErrorCode

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5
BUSY_RETRY_START_S = 0.001
BUSY_RETRY_MAX_S = 0.02
BUSY_GIVE_UP_S = 30.0
# Owed writes are retried this often while they keep failing. Short enough that a re-drive in
# another process waits about a second after space frees, long enough to cost nothing on a disk
# that stays full (each attempt is one statement that fails at once).
OWED_RETRY_START_S = 0.05
OWED_RETRY_MAX_S = 1.0


def is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text


def ready_queue(loop: asyncio.AbstractEventLoop) -> Sized | None:
    """The loop's queue of callbacks ready for this turn (they may want to write too), where the
    implementation has one (CPython's base loop creates it once); None when it cannot tell, and
    then every write takes the batching path.

    Why read a private attribute: a write with nothing else ready this turn commits at once
    instead of waiting a loop turn for writes that cannot come. Without it a sequential effect
    costs 291k instead of 187k instructions on SQLite (synchronous=normal, +55 %,
    bench/instructions.py, 2026-12-01). A loop without ``_ready`` (uvloop) takes the batching path:
    slower, equally correct.
    """
    ready = getattr(loop, "_ready", None)
    return ready if isinstance(ready, Sized) else None


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    durable: bool
    error_code: str
    future: asyncio.Future[Any]
    single_statement: bool = False


@dataclass(slots=True, eq=False)  # eq=False: each debt is itself, compared by identity
class _Owed:
    fn: Callable[[sqlite3.Connection], Any]
    durable: bool
    error_code: str


@dataclass(slots=True)
class _Batch:
    ops: list[_Op] = field(default_factory=list)
    first_busy_at: float | None = None
    backoff_s: float = BUSY_RETRY_START_S


class Database:
    """A connection in autocommit mode plus the batching write queue."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self.loop = loop
        # check_same_thread=False: the loop may be driven from any thread, but only one at a time.
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._ready = ready_queue(loop)
        self._sync_full: bool | None = None
        self._pending: _Batch | None = None
        self._retrying: _Batch | None = None
        self._owed: list[_Owed] = []
        self._payer: asyncio.Task[None] | None = None
        self._commit_seen = asyncio.Event()  # set by every commit while debts are owed
        self._closed = False
        self.commits = 0  # how many write transactions committed (group-commit statistics)
        self.ops_committed = 0

    def set_full_sync(self, full: bool) -> None:
        """Per-transaction fsync: FULL syncs the WAL at commit (and everything before it)."""
        if self._sync_full is not full:
            self.conn.execute(f"PRAGMA synchronous = {'FULL' if full else 'NORMAL'}")
            self._sync_full = full

    # ---- writes ------------------------------------------------------------------------------

    async def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        durable: bool,
        error_code: str,
        single_statement: bool = False,
    ) -> T:
        """Run ``fn`` inside a write transaction shared with the writes of this loop turn.

        ``single_statement``: ``fn`` executes exactly one writing statement. When it commits alone
        it then runs as SQLite's implicit transaction (a writing statement takes the write lock as
        it starts and commits as it ends, like BEGIN IMMEDIATE … COMMIT) without the two extra
        statements.
        """
        if self._closed:
            raise EffectHostError(error_code, f"the SQLite database {self.path} is closed")
        ready = self._ready
        alone = self._pending is None and self._retrying is None and ready is not None and not ready
        if alone and single_statement:
            # The sequential case: nothing else could join a batch this turn, and the statement is
            # its own transaction. Run it now and answer directly, with no future to settle.
            try:
                self.set_full_sync(durable)
                value = fn(self.conn)
            except EffectHostError:
                raise
            except sqlite3.Error as exc:
                if not is_busy(exc):
                    raise EffectHostError(error_code, f"SQLite error: {exc}") from None
                # another process holds the write lock: queue it and back off like any batch
            except Exception as exc:  # e.g. OverflowError binding an int SQLite cannot store
                raise EffectHostError(error_code, f"SQLite error: {exc}") from None
            else:
                self.commits += 1
                self.ops_committed += 1
                if self._owed:
                    self._commit_seen.set()
                return value
        future: asyncio.Future[T] = self.loop.create_future()
        op = _Op(fn, durable, error_code, future, single_statement)
        if alone:
            # Nothing else could join a batch this turn: commit now. Awaiting the finished future
            # then costs no loop turn, which is most of a sequential effect's Python overhead.
            self._run(_Batch([op]))
            return await future
        if self._pending is None:
            self._pending = _Batch()
            if self._retrying is None:
                self.loop.call_soon(self._flush_pending)
        self._pending.ops.append(op)
        return await future

    def _flush_pending(self) -> None:
        batch, self._pending = self._pending, None
        if batch is not None:
            self._run(batch)

    def _retry(self) -> None:
        batch, self._retrying = self._retrying, None
        if batch is not None:
            # Writes queued while we backed off join the retried batch.
            if self._pending is not None:
                batch.ops.extend(self._pending.ops)
                self._pending = None
            self._run(batch)

    def _run(self, batch: _Batch) -> None:
        ops = [op for op in batch.ops if not op.future.cancelled()]
        if not ops:
            return
        batch.ops = ops
        conn = self.conn
        if conn.in_transaction and not self._end_failed_transaction():
            # Building on it would commit (or lose) writes of callers already told they failed.
            self._fail_all(ops, sqlite3.OperationalError("a failed transaction could not be ended"))
            return
        if len(ops) == 1 and ops[0].single_statement:
            self._run_implicit(batch, ops[0])
            return
        try:
            self.set_full_sync(any(op.durable for op in ops))
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if is_busy(exc):
                self._back_off(batch)
                return
            self._fail_all(ops, exc)
            return
        results: list[tuple[_Op, bool, Any]] = []
        try:
            single = len(ops) == 1
            for op in ops:
                if single:
                    results.append(self._apply_single(op))
                else:
                    results.append(self._apply_isolated(op))
            conn.execute("COMMIT")
        except BaseException as exc:
            self._end_failed_transaction()
            if isinstance(exc, sqlite3.Error) and is_busy(exc):
                self._back_off(batch)
                return
            if len(ops) > 1 and isinstance(exc, Exception):
                self._run_each(batch)  # see the module docstring: one failure must not fail all
                return
            self._fail_all(ops, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._committed(results)

    def _end_failed_transaction(self) -> bool:
        """Roll back after a failure; True when no transaction is left open.

        SQLite has often ended it already (a COMMIT that fails for want of space rolls the whole
        transaction back), and then refuses the ROLLBACK: that is fine. If one stays open anyway,
        the sequential fast path in :meth:`write` (a statement run directly) would run inside it
        and never commit, so it is switched off until a later :meth:`_run` ends the transaction.
        """
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
        if self.conn.in_transaction:
            self._ready = None
            return False
        if self._ready is None:
            self._ready = ready_queue(self.loop)
        return True

    def _run_each(self, batch: _Batch) -> None:
        """Run a batch whose shared transaction failed again as one transaction per operation."""
        for i, op in enumerate(batch.ops):
            # _run is only ever called with no batch backing off, so one set now is this op's.
            self._run(_Batch([op], batch.first_busy_at, batch.backoff_s))
            if self._retrying is not None:
                # Another process took the write lock: the rest wait for it together.
                self._retrying.ops.extend(batch.ops[i + 1 :])
                return

    def _run_implicit(self, batch: _Batch, op: _Op) -> None:
        """One single-statement op in SQLite's implicit transaction (atomic on its own)."""
        try:
            self.set_full_sync(op.durable)
            result = self._apply_single(op)
        except sqlite3.Error as exc:  # busy: _apply_single re-raises it untouched
            if is_busy(exc):
                self._back_off(batch)
                return
            self._fail_all([op], exc)
            return
        except BaseException as exc:
            self._fail_all([op], exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._committed([result])

    def _committed(self, results: list[tuple[_Op, bool, Any]]) -> None:
        """After the commit: count it, then hand every caller its own result or error."""
        self.commits += 1
        self.ops_committed += len(results)
        if self._owed:
            self._commit_seen.set()
        for op, ok, value in results:
            if op.future.done():
                continue
            if ok:
                op.future.set_result(value)
            else:
                op.future.set_exception(value)

    def _apply_single(self, op: _Op) -> tuple[_Op, bool, Any]:
        try:
            return op, True, op.fn(self.conn)
        except EffectHostError as exc:
            return op, False, exc
        except sqlite3.Error as exc:
            if is_busy(exc):
                raise
            return op, False, EffectHostError(op.error_code, f"SQLite error: {exc}")

    def _apply_isolated(self, op: _Op) -> tuple[_Op, bool, Any]:
        conn = self.conn
        conn.execute("SAVEPOINT op")
        result = self._apply_single(op)
        if result[1]:
            conn.execute("RELEASE op")
        else:
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
        return result

    def _back_off(self, batch: _Batch) -> None:
        now = time.monotonic()
        if batch.first_busy_at is None:
            batch.first_busy_at = now
        elif now - batch.first_busy_at > BUSY_GIVE_UP_S:
            self._fail_all(batch.ops, sqlite3.OperationalError("database is locked (gave up)"))
            return
        delay = batch.backoff_s
        batch.backoff_s = min(batch.backoff_s * 2, BUSY_RETRY_MAX_S)
        self._retrying = batch
        self.loop.call_later(delay, self._retry)

    @staticmethod
    def _fail_all(ops: list[_Op], exc: BaseException) -> None:
        for op in ops:
            if op.future.done():
                continue
            if isinstance(exc, EffectHostError):
                op.future.set_exception(exc)
            else:
                op.future.set_exception(EffectHostError(op.error_code, f"SQLite error: {exc}"))

    # ---- debts -------------------------------------------------------------------------------

    def owe(self, fn: Callable[[sqlite3.Connection], object], *, durable: bool, error_code: str) -> None:
        """Make sure ``fn`` is written some time, though nobody waits for it any more.

        ``fn`` must be safe to run any number of times and at any later moment (a fenced release:
        once the lease has expired or the row moved on, it matches nothing and is done). Debts are
        kept in memory only: if this process ends first, what they would have freed frees itself
        when its lease expires.
        """
        if self._closed:
            return
        self._owed.append(_Owed(fn, durable, error_code))
        if self._payer is None:
            self._payer = self.loop.create_task(self._pay_debts())

    @property
    def debts(self) -> int:
        """How many owed writes have not been written yet."""
        return len(self._owed)

    async def _pay_debts(self) -> None:
        delay = OWED_RETRY_START_S
        try:
            while self._owed and not self._closed:
                self._commit_seen.clear()
                await self._pay_once()
                if not self._owed:
                    return
                # Retry after a commit (writes go through again) or after the delay, whichever
                # comes first, but never sooner than OWED_RETRY_START_S: a file busy with commits
                # that still refuses the debt is not retried on every one of them.
                await asyncio.sleep(OWED_RETRY_START_S)
                if not self._commit_seen.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._commit_seen.wait(), delay)
                delay = min(delay * 2, OWED_RETRY_MAX_S)
        finally:
            self._payer = None

    async def _pay_once(self) -> None:
        owed = list(self._owed)
        # Written together, they batch into one commit; a failed commit is split (see _run).
        results = await asyncio.gather(
            *(self.write(o.fn, durable=o.durable, error_code=o.error_code) for o in owed),
            return_exceptions=True,
        )
        for debt, result in zip(owed, results, strict=True):
            if not isinstance(result, BaseException) and debt in self._owed:
                self._owed.remove(debt)  # (drain may pay while the payer task does)

    # ---- reads -------------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T], *, error_code: str) -> T:
        """A plain read: WAL readers never wait for writers, so it runs at once."""
        if self._closed:
            raise EffectHostError(error_code, f"the SQLite database {self.path} is closed")
        backoff = BUSY_RETRY_START_S
        started = time.monotonic()
        while True:
            try:
                return fn(self.conn)
            except EffectHostError:
                raise
            except sqlite3.Error as exc:
                # A reader can only be busy while another process recovers the WAL after a crash.
                if is_busy(exc) and time.monotonic() - started < BUSY_GIVE_UP_S:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BUSY_RETRY_MAX_S)
                    continue
                raise EffectHostError(error_code, f"SQLite error: {exc}") from None

    async def drain(self) -> None:
        """Wait until queued writes have committed and try owed writes once more (before closing)."""
        if self._pending is not None or self._retrying is not None:
            # A no-op write queues behind them and returns after their commit.
            with contextlib.suppress(EffectHostError):
                await self.write(
                    lambda conn: None, durable=False, error_code=ErrorCode.SQLITE_EFFECT_REPLAY_STORE
                )
        if self._owed:
            await self._pay_once()  # what still fails now is left to its lease's expiry

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._payer is not None:
                self._payer.cancel()
            self._owed.clear()
            self.conn.close()
