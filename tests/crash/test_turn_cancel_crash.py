"""Cancel racing a worker crash: a worker process is SIGKILLed in the middle of a turn's step, the
turn is cancelled while its dead owner still holds it, and the next worker ends it cancelled at
the next effect boundary; the interrupted step never runs again, the steps before it replay."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from effecthost import EffectHostError, Turn, TurnStatus, Worker, durable_turn, open_host

APP = textwrap.dedent(
    """
    import asyncio, os, sys
    from effecthost import Turn, Worker, durable_turn, open_host

    LOG = sys.argv[2]

    def note(what):
        with open(LOG, "a") as f:
            f.write(f"{what} {os.getpid()}\\n")
            f.flush()
            os.fsync(f.fileno())
        return what

    async def slow():
        note("slow-started")
        await asyncio.sleep(60)
        return note("slow-done")

    @durable_turn(name="cancel_crash")
    async def fn(turn: Turn) -> str:
        await turn.step("first", note, "first")
        await turn.step("slow", slow)
        await turn.step("after", note, "after")
        return "finished"

    async def main():
        async with await open_host(sys.argv[1], lease_ttl_s=1.0) as host:
            async with Worker(host, [fn], poll_interval_s=0.05):
                await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@durable_turn(name="cancel_crash")
async def same_turn(turn: Turn) -> str:
    """The same function as the app's (the next worker runs it here, in the test's process)."""
    await turn.step("first", lambda _: "first", "first")
    await turn.step("slow", lambda: "must not run again")
    await turn.step("after", lambda _: "after", "after")
    return "finished"


async def test_a_cancel_while_the_owner_is_dead_ends_the_turn_cancelled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cancel.db'}"
    log = tmp_path / "effects.log"
    script = tmp_path / "app.py"
    script.write_text(APP)
    async with await open_host(url, lease_ttl_s=1.0) as host:
        handle = await host.start_turn("cancel_crash", session_id="s", turn_id="t")
        proc = subprocess.Popen([sys.executable, str(script), url, str(log)], env=dict(os.environ))  # noqa: ASYNC220
        try:
            for _ in range(1000):
                if log.exists() and "slow-started" in log.read_text():
                    break
                assert proc.poll() is None
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        info = await host.cancel_turn("s", "t")
        assert info.status is TurnStatus.RUNNING and info.cancel_requested  # its dead owner holds it
        async with Worker(host, [same_turn], poll_interval_s=0.05):
            with pytest.raises(EffectHostError) as caught:
                await handle.result(timeout=20)
        assert caught.value.code == "turn_cancelled"
        final = await host.get_turn("s", "t")
        assert final is not None and final.status is TurnStatus.CANCELLED and final.attempts == 2
    lines = log.read_text().split()
    assert lines[0::2] == ["first", "slow-started"], "first ran once, slow was cut short, nothing else ran"
