"""Clocks. Leases and sleep due times are wall-clock milliseconds on the store's clock; tests inject
a :class:`ManualClock` so lease expiry and renewal are driven, not waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


SYSTEM_CLOCK = SystemClock()


class _ManualTimer:
    def __init__(self, clock: ManualClock, due_ms: int, callback: Callable[[], None]) -> None:
        self.due_ms = due_ms
        self.callback = callback
        self.cancelled = False
        self._clock = clock

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that only moves when told to. ``sleep`` parks until :meth:`advance` passes its due time."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._timers: list[_ManualTimer] = []
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many coroutines are parked in :meth:`sleep` (tests wait for a sleeper to appear)."""
        return sum(1 for _, fut in self._sleepers if not fut.done())

    async def sleep(self, seconds: float) -> None:
        due = self._now + max(0, int(seconds * 1000))
        if due <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((due, fut))
        try:
            await fut
        finally:
            self._sleepers = [(d, f) for d, f in self._sleepers if f is not fut]

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(self, self._now + max(0, int(seconds * 1000)), callback)
        self._timers.append(timer)
        return timer

    def advance(self, ms: int) -> None:
        self._now += ms
        for due, fut in list(self._sleepers):
            if due <= self._now and not fut.done():
                fut.set_result(None)
        due_timers = [t for t in self._timers if t.due_ms <= self._now]
        self._timers = [t for t in self._timers if t.due_ms > self._now]
        for timer in due_timers:
            if not timer.cancelled:
                timer.callback()
