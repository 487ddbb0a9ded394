"""The host's lease keeper: one timer for every running execution, renewals every renew_ms.

The lease-fencing vectors of the conformance kit prove renewal and loss against every real store;
these tests pin the keeper's own bookkeeping with a store that only records renewals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from effecthost import EffectHostError
from effecthost._private.core.clock import ManualClock, TimerHandle
from effecthost._private.journal.model import LeaseFence, LeaseTimings
from effecthost._private.runtime.leases import LeaseKeeper


class CountingClock(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.armed = 0

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        self.armed += 1
        return super().call_later(seconds, callback)


class RecordingStore:
    """Answers renewals from ``answers`` (True: renewed, False: lost, an exception: raised)."""

    def __init__(self) -> None:
        self.renewed: list[tuple[str, int]] = []
        self.answers: dict[str, bool | Exception] = {}

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        self.renewed.append((fence.replay_key, ttl_ms))
        answer = self.answers.get(fence.replay_key, True)
        if isinstance(answer, Exception):
            raise answer
        return answer


def fence(key: str) -> LeaseFence:
    return LeaseFence("scope", key, "hash", "owner", f"owner:{key}")


async def advance(clock: ManualClock, ms: int) -> None:
    clock.advance(ms)
    for _ in range(3):  # let renewals started by the timer run to completion
        await asyncio.sleep(0)


async def parked() -> None:
    await asyncio.Event().wait()


async def test_many_held_leases_share_one_timer_and_renew_when_due() -> None:
    clock, store = CountingClock(), RecordingStore()
    keeper = LeaseKeeper(store, clock, LeaseTimings(300))  # renew every 100 ms
    task = asyncio.ensure_future(parked())
    a = keeper.hold(fence("a"), task)
    await advance(clock, 10)
    keeper.hold(fence("b"), task)
    await advance(clock, 10)
    for i in range(50):  # executions that end before any renewal is due arm nothing
        keeper.drop(keeper.hold(fence(f"short-{i}"), task))
    assert clock.armed == 1
    await advance(clock, 80)  # t = 100: only a is due
    assert store.renewed == [("a", 300)]
    await advance(clock, 10)  # t = 110: b is due
    assert store.renewed == [("a", 300), ("b", 300)]
    keeper.drop(a)
    await advance(clock, 100)  # t = 210: b again (renewed at 110); a was dropped
    assert store.renewed == [("a", 300), ("b", 300), ("b", 300)]
    assert not task.done()
    task.cancel()


async def test_a_lost_lease_is_marked_and_cancels_its_execution() -> None:
    clock, store = CountingClock(), RecordingStore()
    keeper = LeaseKeeper(store, clock, LeaseTimings(300))
    store.answers["gone"] = False
    task = asyncio.ensure_future(parked())
    held = keeper.hold(fence("gone"), task)
    await advance(clock, 100)
    assert held.lost
    assert task.cancelled() or task.cancelling() > 0


async def test_a_store_error_is_not_a_lost_lease_and_the_next_renewal_decides() -> None:
    clock, store = CountingClock(), RecordingStore()
    keeper = LeaseKeeper(store, clock, LeaseTimings(300))
    store.answers["flaky"] = EffectHostError("sqlite_effect_replay_store", "disk hiccup")
    task = asyncio.ensure_future(parked())
    held = keeper.hold(fence("flaky"), task)
    await advance(clock, 100)
    assert not held.lost and not task.done()
    store.answers["flaky"] = False
    await advance(clock, 100)
    assert held.lost
    assert [key for key, _ in store.renewed] == ["flaky", "flaky"]


async def test_a_lease_dropped_during_its_renewal_is_not_renewed_again() -> None:
    clock, store = CountingClock(), RecordingStore()
    keeper = LeaseKeeper(store, clock, LeaseTimings(300))
    release = asyncio.Event()

    async def slow_renew(fence: LeaseFence, ttl_ms: int) -> bool:
        store.renewed.append((fence.replay_key, ttl_ms))
        await release.wait()
        return True

    store.renew = slow_renew  # type: ignore[method-assign]
    task = asyncio.ensure_future(parked())
    held = keeper.hold(fence("ending"), task)
    await advance(clock, 100)
    assert held.renewer is not None
    keeper.drop(held)  # the execution ended while its renewal was in flight
    release.set()
    await advance(clock, 500)
    assert store.renewed == [("ending", 300)]
    assert not held.lost
    task.cancel()
