"""The worker: claims runnable turns of the functions it knows and drives them.

Runnable means pending (new, released, resumed), parked and due (a sleep's due time, a wait's
deadline, a resolve that woke it), or held on an expired lease (its driver crashed). Many workers
may share a substrate that is shared across processes: a claim is one transaction, so each turn
runs in one place at a time. The worker sleeps until the store's runnable topic wakes it (a start,
a resolve, a release in any process), the next due time, or its poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core import canonical
from ..core.await_values import AwaitEventKey
from ..core.errors import EffectHostError, ErrorCode
from ..lifecycle import transitions
from ..lifecycle.model import RUNNABLE_TOPIC, TurnRecord, TurnStatus
from .driver import TurnDriver, drive_owner
from .function import DurableTurn

if TYPE_CHECKING:
    from ..runtime.durable import DurableEffectHost

_log = logging.getLogger("effecthost.worker")


class Worker:
    """``async with Worker(host, turns=[...]):`` runs, recovers and resumes those turns on ``host``
    until the block ends; on exit, turns it is driving are released for another worker."""

    def __init__(
        self,
        host: DurableEffectHost,
        turns: Iterable[DurableTurn[Any]],
        *,
        concurrency: int = 100,
        suspend_after_s: float = 1.0,
        poll_interval_s: float = 1.0,
        sweep_interval_s: float = 30.0,
    ) -> None:
        self._host = host
        self._turns: dict[str, DurableTurn[Any]] = {}
        for turn in turns:
            if not isinstance(turn, DurableTurn):
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT, f"a Worker runs @durable_turn functions, not {turn!r}"
                )
            self._turns[turn.name] = turn
        if not self._turns:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, "a Worker needs at least one @durable_turn function"
            )
        for name, value in (
            ("concurrency", concurrency),
            ("suspend_after_s", suspend_after_s),
            ("poll_interval_s", poll_interval_s),
            ("sweep_interval_s", sweep_interval_s),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"{name} must be > 0, not {value!r}")
        self._concurrency = int(concurrency)
        self._suspend_after_s = float(suspend_after_s)
        self._poll_s = float(poll_interval_s)
        self._sweep_s = float(sweep_interval_s)
        self._owner = drive_owner(host)
        self._drives: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._freed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        #: Turns this worker drove to an end or a suspension (for tests and progress output).
        self.completed = 0
        self.suspended = 0

    @property
    def names(self) -> list[str]:
        return sorted(self._turns)

    @property
    def active(self) -> int:
        return len(self._drives)

    async def __aenter__(self) -> Worker:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        if self._loop_task is None:
            self._host.turns.store  # noqa: B018 - refuse a substrate without turn records now
            self._loop_task = asyncio.create_task(self._run(), name="effecthost-worker")

    async def run_forever(self) -> None:
        self.start()
        assert self._loop_task is not None
        try:
            await self._loop_task
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop claiming; cancel the drives (each releases its turn) and wait for them."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        drives = list(self._drives.values())
        for drive in drives:
            drive.cancel()
        await asyncio.gather(*drives, return_exceptions=True)

    async def _run(self) -> None:
        store = self._host.turns.store
        names = self.names
        watch = store.watch(RUNNABLE_TOPIC)
        # Beside the claim loop, not in it: a sweep reads every suspended wait, and with thousands
        # parked it must not hold up the claims that resume resolved turns.
        sweeper = asyncio.create_task(self._sweep_forever(), name="effecthost-worker-sweep")
        try:
            while True:
                watch.event.clear()  # before claiming: a turn made runnable after it sets it again
                self._freed.clear()
                free = self._concurrency - len(self._drives)
                if free > 0:
                    try:
                        claimed = await self._claim(names, free)
                    except EffectHostError as exc:  # an outage: keep the worker, try again
                        _log.warning("worker: claiming turns failed: %s", exc)
                        claimed = []
                    if claimed:
                        continue  # there may be more
                    timeout = await self._until_next_due(names)
                    waiters = [watch.event.wait(), self._freed.wait()]
                else:
                    timeout = self._poll_s
                    waiters = [self._freed.wait()]
                await _first(waiters, timeout)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            watch.close()

    async def _sweep_forever(self) -> None:
        while True:
            await self._sweep_quietly()
            await asyncio.sleep(self._sweep_s)

    async def _claim(self, names: list[str], free: int) -> list[TurnRecord]:
        store = self._host.turns.store
        now = self._host.clock.now_ms()
        claimed = await store.claim_runnable(
            names, now, free, transitions.claim(self._owner, now, self._host.lease.ttl_ms)
        )
        for record in claimed:
            key = (record.session_id, record.turn_id)
            self._drives[key] = asyncio.create_task(self._drive(record), name=f"effecthost-turn {key}")
        return claimed

    async def _drive(self, record: TurnRecord) -> None:
        fn = self._turns[record.name]
        status: TurnStatus | None = None
        try:
            status = await TurnDriver(self._host, fn.fn, record, suspend_after_s=self._suspend_after_s).run()
        except EffectHostError as exc:
            _log.warning("turn %r/%r: drive stopped: %s", record.session_id, record.turn_id, exc)
        finally:
            # the slot is free before the counters move: whoever sees a turn counted sees it gone
            self._drives.pop((record.session_id, record.turn_id), None)
            self._freed.set()
        if status is TurnStatus.WAITING or status is TurnStatus.SLEEPING:
            self.suspended += 1
        elif status is not None:
            self.completed += 1

    async def _until_next_due(self, names: list[str]) -> float:
        try:
            due = await self._host.turns.store.next_wake_ms(names)
        except EffectHostError:
            return self._poll_s
        if due is None:
            return self._poll_s
        # never 0: a due turn another worker holds would make this a busy loop
        return min(self._poll_s, max((due - self._host.clock.now_ms()) / 1000, 0.005))

    async def _sweep_quietly(self) -> None:
        try:
            await self.sweep()
        except EffectHostError as exc:
            _log.warning("worker: sweeping waiting turns failed: %s", exc)

    async def sweep(self) -> int:
        """Wake suspended turns whose await event resolved without waking them (a resolver that
        crashed between its two writes). Returns how many it woke."""
        store = self._host.turns.store
        woken = offset = 0
        while page := await store.list_turns(status=TurnStatus.WAITING, limit=500, offset=offset):
            offset += len(page)
            await asyncio.sleep(0)  # a page at a time: the claim loop runs in between
            for record in page:
                if record.held or not record.wait_key_id or record.waiting_json is None:
                    continue
                if record.wake_at_ms is not None and record.wake_at_ms <= self._host.clock.now_ms():
                    continue
                token = canonical.loads(record.waiting_json).get("key")
                try:
                    resolved = await self._host.peek_await_event(AwaitEventKey.from_token(token)) is not None
                except EffectHostError:
                    resolved = True  # revoked or unreadable: let the re-drive find out and say so
                if resolved:
                    change = transitions.wake(record.wait_key_id, self._host.clock.now_ms())
                    await store.update(record.session_id, record.turn_id, change, durable=False)
                    woken += 1
        return woken


async def _first(waiters: list[Any], timeout_s: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waiters]
    try:
        await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
