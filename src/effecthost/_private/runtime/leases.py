"""Lease renewal for the executions one host runs (spec 6.1): every ttl/3 while an executor runs.

Why one timer per host and not one per execution: most executions end long before their first
renewal is due, and arming then cancelling an event-loop timer for each of them cost ~7 % of a
journaled effect's CPU (measured in instructions). Here holding a lease is a dict insert; one timer
is armed for the earliest due lease and re-armed when it fires.

Each held lease is due ``renew_ms`` after its claim and ``renew_ms`` after each renewal completes,
as with a timer per execution. A renewal that finds the lease gone (stolen, expired and taken over)
marks it lost and cancels the execution's task; the driver turns that into ``…_lease_lost``. A
store error during a renewal is not a lost lease: the next renewal decides.
"""

from __future__ import annotations

import asyncio

from ..core.clock import Clock, TimerHandle
from ..core.errors import EffectHostError
from ..journal.model import LeaseFence, LeaseTimings
from ..journal.store import JournalStore


class HeldLease:
    """One running execution's lease, as the keeper tracks it."""

    __slots__ = ("due_ms", "fence", "lost", "renewer", "task")

    def __init__(self, fence: LeaseFence, task: asyncio.Task[object], due_ms: int) -> None:
        self.fence = fence
        self.task = task
        self.due_ms = due_ms
        self.renewer: asyncio.Task[None] | None = None
        self.lost = False


class LeaseKeeper:
    """Renews the leases held by one host's running executions, with one timer for all of them."""

    def __init__(self, store: JournalStore, clock: Clock, timings: LeaseTimings) -> None:
        self._store = store
        self._clock = clock
        self._timings = timings
        self._held: dict[HeldLease, None] = {}  # an insertion-ordered set
        self._timer: TimerHandle | None = None

    def hold(self, fence: LeaseFence, task: asyncio.Task[object]) -> HeldLease:
        held = HeldLease(fence, task, self._clock.now_ms() + self._timings.renew_ms)
        self._held[held] = None
        if self._timer is None:
            self._arm(held.due_ms)
        # An armed timer is never later than this lease: every other lease was claimed or renewed
        # earlier, so it is due no later than this one.
        return held

    def drop(self, held: HeldLease) -> None:
        """The execution ended: stop renewing (the timer may fire once more and find nothing)."""
        self._held.pop(held, None)
        if held.renewer is not None:
            held.renewer.cancel()
            held.renewer = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, due_ms: int) -> None:
        delay_ms = max(0, due_ms - self._clock.now_ms())
        self._timer = self._clock.call_later(delay_ms / 1000, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.now_ms()
        next_due: int | None = None
        for held in self._held:
            if held.renewer is not None:
                continue  # a renewal is under way; it re-arms the timer when it completes
            if held.due_ms <= now:
                held.renewer = asyncio.ensure_future(self._renew(held))
            elif next_due is None or held.due_ms < next_due:
                next_due = held.due_ms
        if next_due is not None:
            self._arm(next_due)

    async def _renew(self, held: HeldLease) -> None:
        try:
            ok = await self._store.renew(held.fence, self._timings.ttl_ms)
        except EffectHostError:
            ok = True  # a store hiccup is not a lost lease; the next renewal decides
        held.renewer = None
        if held not in self._held:
            return  # the execution ended while the renewal ran
        if not ok:
            held.lost = True
            held.task.cancel()
            return
        held.due_ms = self._clock.now_ms() + self._timings.renew_ms
        if self._timer is None:
            self._arm(held.due_ms)
