"""The replay driver over the memory substrate: decisions, leases, sleeps, releases, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from effecthost import (
    AwaitEvent,
    CancelToken,
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    ManualClock,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    Sleep,
    SleepOutcome,
    WaitIdentity,
    open_host,
)
from effecthost._private.journal.decisions import decide_claim
from effecthost._private.journal.model import (
    Busy,
    Claimed,
    ClaimRequest,
    CorruptRow,
    HashConflict,
    Insert,
    LeaseTimings,
    ReplayError,
    ReplayOutcome,
    StrictReplayMiss,
    TakeOver,
)
from effecthost.interceptors import EffectCounter

SCOPE = ExecutionScope.turn("driver-session", "driver-turn")


def _request(**over: Any) -> ClaimRequest:
    base: dict[str, Any] = dict(
        scope_key=SCOPE.journal_key(), replay_key="k", session_id="driver-session", envelope_hash="h",
        envelope_json="{}", effect_kind="durable_step", effect_id="e", owner="o", token="o:1",
        ttl_ms=1000, sleep_ms=None, strict=False,
    )  # fmt: skip
    base.update(over)
    return ClaimRequest(**base)


def test_decide_claim_covers_every_row_state() -> None:
    decision, write = decide_claim(None, _request(), 100)
    assert isinstance(decision, Claimed) and isinstance(write, Insert)
    assert write.row.lease_expires_at_ms == 1100 and write.row.status == "in_progress"
    row = write.row
    assert isinstance(decide_claim(None, _request(strict=True), 100)[0], StrictReplayMiss)
    assert isinstance(decide_claim(row, _request(envelope_hash="other"), 100)[0], HashConflict)
    busy, no_write = decide_claim(row, _request(), 500)
    assert busy == Busy(1100, 500) and no_write is None
    taken, take_write = decide_claim(row, _request(token="o:2"), 1100)
    assert isinstance(taken, Claimed) and taken.took_over and isinstance(take_write, TakeOver)
    import dataclasses

    done = dataclasses.replace(row, status="completed", outcome_json='{"type":"sleep"}')
    assert decide_claim(done, _request(), 0)[0] == ReplayOutcome('{"type":"sleep"}', None)
    failed = dataclasses.replace(row, status="failed", error_json='{"code":"c","message":"m"}')
    assert decide_claim(failed, _request(strict=True), 0)[0] == ReplayError('{"code":"c","message":"m"}')
    assert isinstance(
        decide_claim(dataclasses.replace(row, status="completed"), _request(), 0)[0], CorruptRow
    )
    assert isinstance(decide_claim(dataclasses.replace(row, status="weird"), _request(), 0)[0], CorruptRow)
    # the hash check comes first, even for an in-progress row
    assert isinstance(decide_claim(row, _request(envelope_hash="x"), 500)[0], HashConflict)


def test_sleep_due_time_is_set_once_and_kept_on_takeover() -> None:
    _, write = decide_claim(None, _request(sleep_ms=5000), 100)
    assert isinstance(write, Insert) and write.row.due_at_ms == 5100
    decision, take = decide_claim(write.row, _request(sleep_ms=5000), 2000)
    assert isinstance(take, TakeOver) and take.due_at_ms == 5100
    assert isinstance(decision, Claimed) and decision.due_at_ms == 5100


def _step(key: str, value: Any = None) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope("driver-session"), key, EffectKind.DURABLE_STEP, key),
        DurableStep(key, value),
    )


def _sleep(key: str, ms: int) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope("driver-session"), key, EffectKind.SLEEP, key), Sleep(ms)
    )


async def _memory() -> DurableEffectHost:
    return await open_host(f"memory://driver-{uuid.uuid4().hex}")


async def test_executor_runs_once_and_replays_from_a_second_host() -> None:
    counted, replays = EffectCounter(), EffectCounter()
    host = await open_host(f"memory://driver-{uuid.uuid4().hex}", interceptors=[counted])
    second = await open_host(host.url, interceptors=[replays])
    calls: list[Any] = []

    def step(value: Any) -> Any:
        calls.append(value)
        return {"seen": value}

    first = await host.controller(SCOPE).execute_effect(_step("a", 1), LocalExecutor.durable_step(step))
    again = await second.controller(SCOPE).execute_effect(_step("a", 1), LocalExecutor.durable_step(step))
    assert first == again and calls == [1]
    assert (counted.executed, counted.replayed, replays.executed, replays.replayed) == (1, 0, 0, 1)


async def test_unexpected_exceptions_are_not_journaled_and_the_effect_runs_again() -> None:
    host = await _memory()
    attempts: list[int] = []

    def flaky(_: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("provider hiccup")
        return "ok"

    with pytest.raises(ConnectionError):
        await host.controller(SCOPE).execute_effect(_step("f"), LocalExecutor.durable_step(flaky))
    outcome = await host.controller(SCOPE).execute_effect(_step("f"), LocalExecutor.durable_step(flaky))
    assert outcome.into_durable_step() == "ok" and len(attempts) == 2


async def test_a_cancelled_execution_releases_its_claim() -> None:
    host = await _memory()
    entered = asyncio.Event()

    async def hang(_: Any) -> Any:
        entered.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(
        host.controller(SCOPE).execute_effect(_step("c"), LocalExecutor.durable_step(hang))
    )
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await host.browser.get_row(SCOPE.journal_key(), "c") is None
    outcome = await asyncio.wait_for(
        host.controller(SCOPE).execute_effect(_step("c"), LocalExecutor.durable_step(lambda _: 5)), 5
    )
    assert outcome.into_durable_step() == 5


async def test_strict_replay_reports_missing_rows_with_the_backend_code() -> None:
    host = await _memory()
    host.start_replay()
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(_step("m"), LocalExecutor.durable_step(lambda _: 1))
    assert info.value.code == "memory_effect_replay_missing"
    assert "replay key `m`" in info.value.message


async def test_changed_envelope_under_a_recorded_key_is_a_hash_conflict_with_paths() -> None:
    host = await _memory()
    await host.controller(SCOPE).execute_effect(
        _step("x", {"a": 1, "b": 2}), LocalExecutor.durable_step(lambda v: v)
    )
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(
            _step("x", {"a": 1, "b": 3, "c": 0}), LocalExecutor.unavailable()
        )
    assert info.value.code == "memory_effect_replay_hash_conflict"
    assert info.value.summary == {
        "divergent_path_count": 2,
        "first_divergent_paths": ["command.input.b", "command.input.c"],
    }


async def test_same_key_in_another_session_is_another_effect() -> None:
    host = await _memory()
    other = ExecutionScope.turn("other-session", "driver-turn")
    await host.controller(SCOPE).execute_effect(_step("k", 1), LocalExecutor.durable_step(lambda v: "a"))
    outcome = await host.controller(other).execute_effect(
        _step("k", 1), LocalExecutor.durable_step(lambda v: "b")
    )
    assert outcome.into_durable_step() == "b"


async def test_busy_effect_waits_for_the_owner_and_then_replays() -> None:
    host, peer = await _memory(), None
    peer = await open_host(host.url)
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(_: Any) -> Any:
        entered.set()
        await release.wait()
        return "owner"

    owner = asyncio.ensure_future(
        host.controller(SCOPE).execute_effect(_step("b"), LocalExecutor.durable_step(slow))
    )
    await entered.wait()
    follower = asyncio.ensure_future(
        peer.controller(SCOPE).execute_effect(_step("b"), LocalExecutor.durable_step(lambda _: "follower"))
    )
    await asyncio.sleep(0.1)
    assert not follower.done()
    release.set()
    assert (await owner).into_durable_step() == "owner"
    assert (await asyncio.wait_for(follower, 5)).into_durable_step() == "owner"


async def test_durable_sleep_replays_until_its_recorded_due_time() -> None:
    clock = ManualClock()
    host = await open_host(f"memory://sleep-{uuid.uuid4().hex}", clock=clock)
    first = asyncio.ensure_future(
        host.controller(SCOPE).execute_effect(_sleep("nap", 1000), LocalExecutor.sleep())
    )
    await asyncio.sleep(0.01)
    assert not first.done()
    first.cancel()  # a crash mid-sleep: the claim is released, the due time is lost with it
    await asyncio.gather(first, return_exceptions=True)
    second = asyncio.ensure_future(
        host.controller(SCOPE).execute_effect(_sleep("nap", 1000), LocalExecutor.sleep())
    )
    await asyncio.sleep(0.01)
    row = await host.browser.get_row(SCOPE.journal_key(), "nap")
    assert row is not None and row.due_at_ms == clock.now_ms() + 1000
    clock.advance(999)
    await asyncio.sleep(0.01)
    assert not second.done()
    clock.advance(1)
    assert await asyncio.wait_for(second, 5) == SleepOutcome()
    replay = await host.controller(SCOPE).execute_effect(_sleep("nap", 1000), LocalExecutor.unavailable())
    assert replay == SleepOutcome()


async def test_cancelled_sleep_is_not_journaled() -> None:
    host = await _memory()
    cancel = CancelToken()
    task = asyncio.ensure_future(
        host.controller(SCOPE).execute_effect(_sleep("s", 60_000), LocalExecutor.sleep(cancel))
    )
    await asyncio.sleep(0.01)
    cancel.cancel()
    with pytest.raises(EffectHostError) as info:
        await asyncio.wait_for(task, 5)
    assert info.value.code == "runtime_effect_sleep_cancelled"
    assert await host.browser.get_row(SCOPE.journal_key(), "s") is None


@pytest.mark.parametrize("executor", ["unavailable", "mismatch"])
async def test_a_drive_without_a_fitting_executor_records_nothing(executor: str) -> None:
    """A caller with no executor (or one for another kind) reaching an unrecorded effect fails with
    the executor's code; the key stays free and a later drive with a working executor runs it."""
    host = await _memory()
    envelope = _step("k", {"x": 1})
    wrong = LocalExecutor.unavailable() if executor == "unavailable" else LocalExecutor.sleep()
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(envelope, wrong)
    assert info.value.code == f"runtime_effect_local_executor_{executor}"
    assert await host.browser.get_row(SCOPE.journal_key(), "k") is None
    outcome = await host.controller(SCOPE).execute_effect(envelope, LocalExecutor.durable_step(lambda v: v))
    assert outcome.into_durable_step() == {"x": 1}


async def test_closing_the_host_ends_a_parked_await_effect_without_journaling_it() -> None:
    """``host_closed`` is this process going away, not the event's answer: the claim is released,
    and a drive on another host object over the same substrate waits again and gets the terminal."""
    url = f"memory://driver-close-{uuid.uuid4().hex}"
    first, second = await open_host(url), await open_host(url)
    key = await first.await_event_key(SCOPE, WaitIdentity.custom("approval"))
    envelope = EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope("driver-session"), "wait", EffectKind.AWAIT_EVENT, "wait"),
        AwaitEvent(key),
    )
    parked = asyncio.ensure_future(first.controller(SCOPE).execute_effect(envelope, LocalExecutor.await_event()))
    while not await second.list_outstanding_await_event_keys(SCOPE.session_id or ""):  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    await first.aclose()
    with pytest.raises(EffectHostError) as info:
        await asyncio.wait_for(parked, 5)
    assert info.value.code == "host_closed"
    assert await second.browser.get_row(SCOPE.journal_key(), "wait") is None
    redrive = asyncio.ensure_future(second.controller(SCOPE).execute_effect(envelope, LocalExecutor.await_event()))
    assert await second.resolve_await_event(key, Resolution.ok("yes")) == ResolveOutcome.ACCEPTED
    outcome = await asyncio.wait_for(redrive, 5)
    assert outcome.into_await_event() == Resolution.ok("yes")
    await second.aclose()


async def test_an_await_whose_substrate_failed_is_not_journaled_and_waits_again() -> None:
    """``*_await_event_store`` (a full disk, a lost connection while registering the wait) is no
    answer: recording it would replay the outage forever. The claim is released and the next drive
    waits again. The store's failure is injected: a real one is tested on a full tmpfs."""
    host = await _memory()
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("approval"))
    envelope = EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope("driver-session"), "wait", EffectKind.AWAIT_EVENT, "wait"),
        AwaitEvent(key),
    )
    store: Any = host.await_coordinator.store
    original = store.ensure_pending

    async def outage(*args: Any) -> bool:
        raise EffectHostError("memory_await_event_store", "the substrate is unreachable")

    store.ensure_pending = outage
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(envelope, LocalExecutor.await_event())
    assert info.value.code == "memory_await_event_store"
    assert await host.browser.get_row(SCOPE.journal_key(), "wait") is None
    store.ensure_pending = original
    redrive = asyncio.ensure_future(host.controller(SCOPE).execute_effect(envelope, LocalExecutor.await_event()))
    while not await host.list_outstanding_await_event_keys(SCOPE.session_id or ""):
        if redrive.done():
            redrive.result()  # a replayed outage would surface here
        await asyncio.sleep(0.005)
    assert await host.resolve_await_event(key, Resolution.ok("yes")) == ResolveOutcome.ACCEPTED
    assert (await asyncio.wait_for(redrive, 5)).into_await_event() == Resolution.ok("yes")
    await host.aclose()


async def test_different_keys_execute_concurrently_without_a_lock() -> None:
    host = await _memory()
    controller = host.controller(SCOPE)
    barrier = asyncio.Barrier(8)

    async def meet(value: Any) -> Any:
        await barrier.wait()
        return value

    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(
                controller.execute_effect(_step(f"p{i}", i), LocalExecutor.durable_step(meet))
                for i in range(8)
            )
        ),
        5,
    )
    assert [o.into_durable_step() for o in outcomes] == list(range(8))


async def test_non_json_step_results_fail_with_a_coded_error() -> None:
    host = await _memory()
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(_step("nj"), LocalExecutor.durable_step(lambda _: {1, 2}))
    assert info.value.code == "canonical_json_unsupported_type"


def test_lease_timings_are_validated() -> None:
    assert LeaseTimings(30_000).renew_ms == 10_000
    for ttl, renew in [(0, None), (10, 5), (3, 0)]:
        with pytest.raises(EffectHostError) as info:
            LeaseTimings(ttl, renew)
        assert info.value.code == "host_option_invalid"


@pytest.mark.parametrize("url", ["nope", "memory://", "ftp://x", "sqlite://relative.db", 5])
async def test_bad_host_urls_are_coded(url: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        await open_host(url)
    assert info.value.code in {"host_url_invalid", "host_url_unsupported"}


@pytest.mark.parametrize("ttl", [0, -1, "5", True])
async def test_bad_lease_ttl_is_coded(ttl: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        await open_host("memory://ttl", lease_ttl_s=ttl)
    assert info.value.code == "host_option_invalid"


async def test_a_conflict_found_in_a_preloaded_row_still_names_the_divergent_paths() -> None:
    """Stores may preload rows without their envelope; the driver re-reads it for the diagnostics."""
    host = await _memory()
    await host.controller(SCOPE).execute_effect(_step("pre", {"a": 1}), LocalExecutor.durable_step(lambda v: v))
    journal: Any = host.journal
    original = journal.preload

    async def without_envelopes(scope_key: str) -> list[Any]:
        import dataclasses

        return [dataclasses.replace(row, envelope_json="") for row in await original(scope_key)]

    journal.preload = without_envelopes
    with pytest.raises(EffectHostError) as info:
        await host.controller(SCOPE).execute_effect(_step("pre", {"a": 2}), LocalExecutor.unavailable())
    assert info.value.code == "memory_effect_replay_hash_conflict"
    assert info.value.summary == {"divergent_path_count": 1, "first_divergent_paths": ["command.input.a"]}


async def test_a_memory_host_stamps_leases_and_due_times_on_the_clock_it_was_given() -> None:
    """Regression (structure issue): ``open_host("memory://x", clock=ManualClock())`` gave the
    store the system clock and the host the manual one, so a 1 s durable sleep waited ~9.6e10 ms
    of manual time. One place now builds hosts and hands the same clock to store and host."""
    clock = ManualClock()
    host = await open_host(f"memory://clock-{uuid.uuid4().hex}", clock=clock, lease_ttl_s=30)
    nap = asyncio.ensure_future(host.controller(SCOPE).execute_effect(_sleep("nap", 1000), LocalExecutor.sleep()))
    while (row := await host.browser.get_row(SCOPE.journal_key(), "nap")) is None:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    assert (row.due_at_ms, row.lease_expires_at_ms) == (clock.now_ms() + 1000, clock.now_ms() + 30_000)
    clock.advance(1000)
    assert await asyncio.wait_for(nap, 5) == SleepOutcome()
    await host.aclose()
