"""A SQLite host on a filesystem that runs out of space (a tmpfs of a few MiB, mounted per test).

What must hold: opening takes only a small share of the free space (the WAL pre-size); a write
that finds the disk full fails with a coded error, alone (not the writes that shared its commit);
and a finalize that fails gives its claim up, so that once space frees a re-drive of the same
effect (same scope and replay key), from another host object or another process, runs at once
instead of waiting out the 30 s lease the failed attempt held (so does a cancelled finalize).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from effecthost import (
    AwaitEvent,
    DurableEffectHost,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
    open_host,
)
from effecthost._private.stores.sqlite.wal import wal_size

from ._helpers import step

SCOPE = ExecutionScope.turn("s", "t")
SRC = str(Path(__file__).resolve().parents[2] / "src")
# Every re-drive must finish far inside the 30 s lease a stalled claim would hold.
PROMPT_S = 5.0


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mounts a tmpfs of the given size (``"2m"``) under tmp_path; unmounted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    try:
        yield mount
    finally:
        for where in reversed(mounted):
            # Lazy: a connection a failing test left open must not leave the mount behind.
            subprocess.run(["umount", "-l", str(where)], check=False)


def _free(where: Path) -> int:
    return shutil.disk_usage(where).free


def _fill(ballast: Path, leave: int = 0) -> None:
    """Write ``ballast`` until the filesystem refuses one more byte (unbuffered, so every byte
    that was accepted is on the filesystem when this returns), then give ``leave`` bytes back."""
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for chunk in (1 << 16, 1 << 12, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        size = os.fstat(fd).st_size
        assert size > leave
        os.ftruncate(fd, size - leave)
    finally:
        os.close(fd)


def _envelope(key: str) -> EffectEnvelope:
    return step("s", key, key)


async def _rows(host: DurableEffectHost) -> list[tuple[str, str, str | None]]:
    rows = await host.browser.list_effects(SCOPE.journal_key())
    return [(r.replay_key, r.status, r.lease_owner) for r in rows]


async def _fail_a_finalize_on_a_full_disk(host: DurableEffectHost, ballast: Path) -> None:
    """Run ``e1`` whose step fills the disk before it returns: its finalize has no space."""

    async def fills_the_disk(value: Any) -> Any:
        _fill(ballast)
        return {"first": value}

    with pytest.raises(EffectHostError) as info:
        await host.scoped(SCOPE).controller.execute_effect(
            _envelope("e1"), LocalExecutor.durable_step(fills_the_disk)
        )
    assert info.value.code == "sqlite_effect_replay_store"
    assert "full" in info.value.message
    # Let the claim's release be tried (and refused: the disk is still full) before space frees,
    # so the re-drive below depends on the release being written later, not on a lucky ordering.
    await asyncio.sleep(0.3)
    assert await _rows(host) == [("e1", "in_progress", host.owner_id)]


async def test_open_takes_only_a_small_share_of_a_small_filesystem(mount_tmpfs: Any) -> None:
    fs = mount_tmpfs("4m")
    before = _free(fs)
    host = await open_host(f"sqlite:///{fs}/x.db")
    try:
        # The WAL target (~4.4 MB) exceeds a tenth of the free space: no pre-size.
        assert wal_size(str(fs / "x.db")) < 0.1 * before
        assert _free(fs) > 0.9 * before
        out = await host.scoped(SCOPE).controller.execute_effect(
            _envelope("e1"), LocalExecutor.durable_step(lambda v: v["key"])
        )
        assert out.into_durable_step() == "e1"
        assert _free(fs) > 0.9 * before  # a journaled effect grows the WAL only by what it wrote
    finally:
        await host.aclose()


async def test_a_finalize_that_finds_the_disk_full_gives_its_claim_up(mount_tmpfs: Any) -> None:
    fs = mount_tmpfs("3m")
    url, ballast = f"sqlite:///{fs}/x.db", fs / "ballast"
    first = await open_host(url)
    second: DurableEffectHost | None = None
    try:
        await _fail_a_finalize_on_a_full_disk(first, ballast)
        # While the disk is full a claim fails too, with a code, and leaves nothing behind.
        calls: list[str] = []
        with pytest.raises(EffectHostError) as info:
            await first.scoped(SCOPE).controller.execute_effect(
                _envelope("e2"), LocalExecutor.durable_step(calls.append)
            )
        assert info.value.code == "sqlite_effect_replay_store" and calls == []
        assert [r[0] for r in await _rows(first)] == ["e1"]

        ballast.unlink()
        # Another host object (the first stays open, its lease would run 30 s): same scope, same key.
        second = await open_host(url)
        out = await asyncio.wait_for(
            second.scoped(SCOPE).controller.execute_effect(
                _envelope("e1"), LocalExecutor.durable_step(lambda v: {"again": v["key"]})
            ),
            PROMPT_S,
        )
        # At least once: the first execution's result was never recorded, so it ran again.
        assert out.into_durable_step() == {"again": "e1"}
        assert await _rows(second) == [("e1", "completed", None)]
        assert first.journal.database.debts == 0
        assert not first.journal.database.conn.in_transaction
    finally:
        if second is not None:
            await second.aclose()
        await first.aclose()


_CHILD_REDRIVES = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[2])
from effecthost import ExecutionScope, LocalExecutor, open_host
from _helpers import step
async def main():
    host = await open_host(sys.argv[1])
    try:
        controller = host.scoped(ExecutionScope.turn("s", "t")).controller
        run = controller.execute_effect(step("s", "e1", "e1"), LocalExecutor.durable_step(lambda v: {"child": v["key"]}))
        out = await asyncio.wait_for(run, float(sys.argv[3]))
        print(json.dumps(out.into_durable_step()), flush=True)
    finally:
        await host.aclose()
asyncio.run(main())
"""


@pytest.mark.parametrize("owner", ["stays-open-and-idle", "closes-after-space-frees"])
async def test_a_fresh_process_redrives_promptly_after_space_frees(mount_tmpfs: Any, owner: str) -> None:
    """The release reaches the file for other processes too: written on a retry timer by an owner
    that writes nothing else, or when the owner closes its host."""
    fs = mount_tmpfs("3m")
    url, ballast = f"sqlite:///{fs}/x.db", fs / "ballast"
    host = await open_host(url)
    closed = False
    try:
        await _fail_a_finalize_on_a_full_disk(host, ballast)
        ballast.unlink()
        if owner == "closes-after-space-frees":
            await host.aclose()
            closed = True
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD_REDRIVES, url, str(Path(__file__).parent), str(PROMPT_S),
            env=dict(os.environ, PYTHONPATH=SRC),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        # Generous: this bounds interpreter start-up on a loaded machine, not the re-drive.
        stdout, stderr = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, stderr.decode()
        assert json.loads(stdout) == {"child": "e1"}
        reader = await open_host(url)
        try:
            assert await _rows(reader) == [("e1", "completed", None)]
        finally:
            await reader.aclose()
    finally:
        if not closed:
            await host.aclose()


async def test_a_full_commit_fails_only_the_write_that_needs_the_space(mount_tmpfs: Any) -> None:
    """Three writes share one commit: a finalize with a 300 KB outcome, a small finalize and a
    claim. The shared commit fails for want of space; the two small writes still commit."""
    fs = mount_tmpfs("3m")
    url, ballast = f"sqlite:///{fs}/x.db", fs / "ballast"
    host = await open_host(url)
    try:
        controller = host.scoped(SCOPE).controller
        db = host.journal.database
        go = asyncio.Event()
        running: list[str] = []

        def waiting(result: Any) -> LocalExecutor:
            async def fn(value: Any) -> Any:
                running.append(value["key"])
                await go.wait()
                return result

            return LocalExecutor.durable_step(fn)

        async def claims_at_go() -> Any:
            await go.wait()
            return await controller.execute_effect(_envelope("late"), LocalExecutor.durable_step(lambda v: v["key"]))

        big = asyncio.ensure_future(controller.execute_effect(_envelope("big"), waiting("x" * 300_000)))
        small = asyncio.ensure_future(controller.execute_effect(_envelope("small"), waiting("small")))
        late = asyncio.ensure_future(claims_at_go())
        while len(running) < 2:  # noqa: ASYNC110 - both claimed and executing
            await asyncio.sleep(0.005)
        _fill(ballast, leave=64 << 10)  # room for a few small commits, not for 300 KB
        commits = db.commits
        go.set()  # all three write in the same loop turn: one shared transaction
        results = await asyncio.wait_for(asyncio.gather(big, small, late, return_exceptions=True), PROMPT_S)
        assert isinstance(results[0], EffectHostError), results[0]
        assert results[0].code == "sqlite_effect_replay_store" and "full" in results[0].message
        assert [r if isinstance(r, BaseException) else r.into_durable_step() for r in results[1:]] == [
            "small",
            "late",
        ]
        assert db.commits > commits
        assert not db.conn.in_transaction
        # The big finalize's claim was released (there was room for that), nothing else lost.
        await asyncio.wait_for(_until(lambda: db.debts == 0), PROMPT_S)
        assert sorted(await _rows(host)) == [("late", "completed", None), ("small", "completed", None)]
    finally:
        await host.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - a plain in-memory condition
        await asyncio.sleep(0.01)


async def test_an_await_event_whose_registration_finds_the_disk_full_gives_its_claim_up(
    mount_tmpfs: Any,
) -> None:
    """The await-event writes fail with a code too, and the claim of the effect waiting on them
    does not outlive the failure: after space frees, a re-drive parks (here: finds the terminal)
    at once."""
    fs = mount_tmpfs("3m")
    url, ballast = f"sqlite:///{fs}/x.db", fs / "ballast"
    first = await open_host(url)
    second: DurableEffectHost | None = None
    try:
        key = await first.await_event_key(SCOPE, WaitIdentity.custom("approval"))
        envelope = EffectEnvelope(
            RuntimeInvocation.effect(RuntimeScope("s"), "wait", EffectKind.AWAIT_EVENT, "wait"), AwaitEvent(key)
        )
        conn = first.journal.database.conn
        filled: list[bool] = []

        def fill_once() -> None:
            if not filled:
                filled.append(True)
                _fill(ballast)

        # The disk fills inside the transaction that registers the pending wait (after the claim).
        conn.create_function("fill_disk", 0, fill_once)
        conn.execute(
            "CREATE TEMP TRIGGER fill_disk_on_wait BEFORE INSERT ON main.await_event_waits"
            " BEGIN SELECT fill_disk(); END"
        )
        with pytest.raises(EffectHostError) as info:
            await first.scoped(SCOPE).controller.execute_effect(envelope, LocalExecutor.await_event())
        # The registration failed: that outage is no answer, so it is not journaled; the driver
        # gives the claim back (refused as well while the disk is full) and reports the outage.
        assert info.value.code == "sqlite_await_event_store" and "full" in info.value.message
        assert filled  # the registration's transaction did fill the disk
        conn.execute("DROP TRIGGER fill_disk_on_wait")
        await asyncio.sleep(0.3)  # the release is tried while the disk is still full
        assert await _rows(first) == [("wait", "in_progress", first.owner_id)]

        ballast.unlink()
        second = await open_host(url)
        await second.resolve_await_event(key, Resolution.ok({"approved": True}))
        out = await asyncio.wait_for(
            second.scoped(SCOPE).controller.execute_effect(envelope, LocalExecutor.await_event()), PROMPT_S
        )
        assert out.to_json()["resolution"] == Resolution.ok({"approved": True}).to_json()
        assert await _rows(second) == [("wait", "completed", None)]
    finally:
        if second is not None:
            await second.aclose()
        await first.aclose()


async def test_a_cancelled_finalize_gives_its_claim_up(db_path: str) -> None:
    """Not about space, the same rule: a finalize whose caller is cancelled (here while it waits
    for another connection's write lock) records nothing and gives the claim up."""
    url = f"sqlite:///{db_path}"
    first = await open_host(url)
    second: DurableEffectHost | None = None
    blocker = sqlite3.connect(db_path, isolation_level=None)
    executing, finish = asyncio.Event(), asyncio.Event()

    async def slow(value: Any) -> Any:
        executing.set()
        await finish.wait()
        return "first"

    try:
        task = asyncio.ensure_future(
            first.scoped(SCOPE).controller.execute_effect(_envelope("e1"), LocalExecutor.durable_step(slow))
        )
        await executing.wait()
        blocker.execute("BEGIN IMMEDIATE")
        finish.set()
        for _ in range(10):  # the finalize now backs off, waiting for the lock
            await asyncio.sleep(0.005)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        blocker.execute("COMMIT")
        second = await open_host(url)
        out = await asyncio.wait_for(
            second.scoped(SCOPE).controller.execute_effect(
                _envelope("e1"), LocalExecutor.durable_step(lambda v: "again")
            ),
            PROMPT_S,
        )
        assert out.into_durable_step() == "again"
        assert await _rows(second) == [("e1", "completed", None)]
    finally:
        blocker.close()
        if second is not None:
            await second.aclose()
        await first.aclose()
