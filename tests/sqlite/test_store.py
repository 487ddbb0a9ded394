"""SQLite-specific journal and await-store behaviour beyond the conformance kit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from effecthost import (
    EffectHostError,
    ExecutionScope,
    JournalRetirement,
    LocalExecutor,
    ManualClock,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
    open_host,
)

from ._helpers import counting, step

SCOPE = ExecutionScope.turn("store-session", "turn-1")


async def test_synchronous_option_from_url_and_argument(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}?synchronous=normal")
    other = await open_host(f"sqlite:///{db_path}", synchronous="extra")
    default = await open_host(f"sqlite:///{db_path}")
    try:
        assert host.journal._durability.level == "normal"
        assert other.journal._durability.level == "extra"
        assert default.journal._durability.level == "full"
    finally:
        for h in (host, other, default):
            await h.aclose()


@pytest.mark.parametrize("url_suffix", ["?synchronous=sometimes", "?cache=shared"])
async def test_bad_options_are_refused_with_host_option_invalid(db_path: str, url_suffix: str) -> None:
    with pytest.raises(EffectHostError) as info:
        await open_host(f"sqlite:///{db_path}{url_suffix}")
    assert info.value.code == "host_option_invalid"


async def test_hosts_on_one_file_share_one_connection_and_recorded_outcomes(db_path: str) -> None:
    a = await open_host(f"sqlite:///{db_path}")
    b = await open_host(f"sqlite:///{db_path}")
    try:
        assert a.journal.database is b.journal.database
        assert a.await_coordinator.store.hub is b.await_coordinator.store.hub
        calls: list[str] = []
        first = await a.scoped(SCOPE).controller.execute_effect(step("s", "k"), counting(calls))
        again = await b.scoped(SCOPE).controller.execute_effect(step("s", "k"), counting(calls))
        assert first == again and calls == ["k"]
    finally:
        await a.aclose()
        await b.aclose()


async def test_concurrent_turns_share_commits(db_path: str) -> None:
    """Group commit: claims and finalizes requested in the same loop turn commit together."""
    host = await open_host(f"sqlite:///{db_path}")
    try:
        calls: list[str] = []
        db = host.journal.database
        before = db.commits
        turns = 20
        await asyncio.gather(
            *(
                host.scoped(ExecutionScope.turn("group", f"t{i}")).controller.execute_effect(
                    step("group", f"k{i}"), counting(calls)
                )
                for i in range(turns)
            )
        )
        assert sorted(calls) == sorted(f"k{i}" for i in range(turns))
        # every turn needs a claim and a finalize; shared commits make far fewer transactions
        assert db.commits - before < turns
        assert db.ops_committed >= 2 * turns
    finally:
        await host.aclose()


async def test_foreign_write_lock_does_not_block_the_event_loop(db_path: str) -> None:
    """Another process-like connection holds the write lock: the claim retries asynchronously."""
    host = await open_host(f"sqlite:///{db_path}")
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        calls: list[str] = []
        task = asyncio.ensure_future(
            host.scoped(SCOPE).controller.execute_effect(step("s", "locked"), counting(calls))
        )
        ticks = 0
        while ticks < 20:  # the loop keeps running other work while the claim waits
            await asyncio.sleep(0.005)
            ticks += 1
        assert not task.done() and calls == []
        blocker.execute("COMMIT")
        await asyncio.wait_for(task, 10)
        assert calls == ["locked"]
    finally:
        blocker.close()
        await host.aclose()


async def test_finalize_waits_out_a_foreign_write_lock_and_records_the_outcome(db_path: str) -> None:
    """The finalize is a lone single-statement write (SQLite's implicit transaction): when another
    connection holds the write lock it backs off asynchronously and commits once the lock is free."""
    host = await open_host(f"sqlite:///{db_path}")
    blocker = sqlite3.connect(db_path, isolation_level=None)
    executing, finish = asyncio.Event(), asyncio.Event()

    async def slow(value: object) -> str:
        executing.set()
        await finish.wait()
        return "done"

    try:
        task = asyncio.ensure_future(
            host.scoped(SCOPE).controller.execute_effect(step("s", "fin"), LocalExecutor.durable_step(slow))
        )
        await executing.wait()
        blocker.execute("BEGIN IMMEDIATE")
        finish.set()
        for _ in range(10):
            await asyncio.sleep(0.005)
        assert not task.done()  # the finalize is waiting for the lock, the loop is not
        blocker.execute("COMMIT")
        outcome = await asyncio.wait_for(task, 10)
        assert outcome.into_durable_step() == "done"
        row = await host.browser.get_row(SCOPE.journal_key(), step("s", "fin").replay_key)
        assert row is not None and row.status == "completed"
    finally:
        blocker.close()
        await host.aclose()


async def test_sql_errors_surface_as_sqlite_effect_replay_store(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    try:
        host.journal.database.conn.execute("DROP TABLE effect_journal")
        with pytest.raises(EffectHostError) as info:
            await host.scoped(SCOPE).controller.execute_effect(step("s", "k"), counting([]))
        assert info.value.code == "sqlite_effect_replay_store"
    finally:
        await host.aclose()


async def test_expired_lease_of_a_crashed_owner_is_taken_over(db_path: str) -> None:
    """ManualClock: A claims and 'crashes' (its task is cancelled without release reaching the
    row); once the ttl passes on the lease clock, B takes the row over and executes."""
    clock = ManualClock()
    a = await open_host(f"sqlite:///{db_path}", clock=clock, lease_ttl_s=3)
    b = await open_host(f"sqlite:///{db_path}", clock=clock, lease_ttl_s=3)
    try:
        entered = asyncio.Event()

        async def hang(_: object) -> object:
            entered.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        envelope = step("s", "crash")
        task = asyncio.ensure_future(
            a.scoped(SCOPE).controller.execute_effect(envelope, LocalExecutor.durable_step(hang))
        )
        await entered.wait()
        # Simulate a crash: the row stays in progress with A's lease (no release).
        a.journal.release = _never_release  # type: ignore[method-assign]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        row = await b.browser.get_row(SCOPE.journal_key(), "crash")
        assert row is not None and row.status == "in_progress"
        clock.advance(3_001)
        calls: list[str] = []
        out = await b.scoped(SCOPE).controller.execute_effect(envelope, counting(calls))
        assert calls == ["crash"] and out.to_json()["value"] == {"ran": "crash"}
        row = await b.browser.get_row(SCOPE.journal_key(), "crash")
        assert row is not None and row.status == "completed" and row.lease_owner is None
    finally:
        await a.aclose()
        await b.aclose()


async def _never_release(fence: object) -> bool:
    return False


async def test_retirement_deletes_session_rows_and_exact_scope_rows(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    try:
        scopes = [
            ExecutionScope.turn("retire-me", "t1"),
            ExecutionScope.queue_drain("retire-me", "d1"),
            ExecutionScope.session_delete("retire-me"),
            ExecutionScope.turn("keep-me", "t1"),
            ExecutionScope.process("p1"),
            ExecutionScope.process("p10"),
        ]
        for scope in scopes:
            await host.scoped(scope).controller.execute_effect(step("x", "k"), counting([]))
        assert await host.retire_effect_journal(JournalRetirement.session("retire-me")) == 3
        assert await host.retire_effect_journal(JournalRetirement.process("p1")) == 1
        left = {s.scope_key for s in await host.browser.list_scopes(None)}
        assert left == {ExecutionScope.process("p10").journal_key()}
        assert [s.session_id for s in await host.browser.list_sessions()] == ["keep-me"]
    finally:
        await host.aclose()


async def test_keys_minted_before_a_restart_verify_after_it(db_path: str) -> None:
    first = await open_host(f"sqlite:///{db_path}")
    key = await first.await_event_key(SCOPE, WaitIdentity.custom("restart"))
    await first.aclose()
    second = await open_host(f"sqlite:///{db_path}")
    try:
        assert await second.await_event_key(SCOPE, WaitIdentity.custom("restart")) == key
        assert await second.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.ACCEPTED
        assert await second.await_await_event(key) == Resolution.ok(1)
    finally:
        await second.aclose()


async def test_separate_files_have_separate_secrets(tmp_path: object) -> None:
    a = await open_host(f"sqlite:///{tmp_path}/a.db")
    b = await open_host(f"sqlite:///{tmp_path}/b.db")
    try:
        key = await a.await_event_key(SCOPE, WaitIdentity.custom("x"))
        assert await b.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED
    finally:
        await a.aclose()
        await b.aclose()


async def test_revocation_is_a_permanent_row(db_path: str) -> None:
    host = await open_host(f"sqlite:///{db_path}")
    await host.revoke_await_events_for_session("gone")
    await host.aclose()
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT session_id FROM await_event_revoked_sessions").fetchall()
    assert rows == [("gone",)]
