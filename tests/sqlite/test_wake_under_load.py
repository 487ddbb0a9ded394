"""No wake-up is lost when several processes resolve at once (defect 8).

One waiter process parks on every key with polling switched off, so a waiter wakes only if a hint
reaches it: a lost hint is a waiter that never wakes, and the test times out. Four resolver
processes then resolve 200 keys each, one after another, as fast as they can — far more datagrams
than the waiter's receive queue holds (``net.unix.max_dgram_qlen``, 10 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from effecthost import ExecutionScope, Resolution, ResolveOutcome, WaitIdentity, open_host

SRC = str(Path(__file__).resolve().parents[2] / "src")
SESSION = "load-session"
SCOPE = ExecutionScope.turn(SESSION, "load-turn")
RESOLVERS = 4
KEYS_EACH = 200
WORKERS = 8  # concurrent resolves per process: several per commit, a burst of hints per commit
WAKE_TIMEOUT_S = 30.0

_WAITER = """
import asyncio, json, sys
from effecthost import AwaitEventKey, open_host
from effecthost._private.runtime import await_loop as coordinator
coordinator.POLL_START_S = coordinator.POLL_MAX_S = 3600.0  # only a wake-up can end a wait
async def main():
    host = await open_host(sys.argv[1])
    tokens = json.load(open(sys.argv[2]))
    async def wait(index, token):
        resolution = await host.await_await_event(AwaitEventKey.from_token(token))
        print(json.dumps([index, resolution.to_json()]), flush=True)
    await asyncio.gather(*(wait(i, t) for i, t in enumerate(tokens)))
    await host.aclose()
asyncio.run(main())
"""

_RESOLVER = """
import asyncio, json, sys
from effecthost import AwaitEventKey, Resolution, open_host
async def main():
    host = await open_host(sys.argv[1])
    tokens = json.load(open(sys.argv[2]))
    first, last = int(sys.argv[3]), int(sys.argv[4])
    keys = [AwaitEventKey.from_token(t) for t in tokens[first:last]]
    sys.stdin.readline()  # every resolver starts at the same moment
    outcomes = {}
    async def worker(mine):  # each worker resolves one after another; their commits batch
        for index, key in mine:
            outcomes[index] = str(await host.resolve_await_event(key, Resolution.ok({"i": index})))
    todo = list(enumerate(keys, first))
    workers = int(sys.argv[5])
    await asyncio.gather(*(worker(todo[w::workers]) for w in range(workers)))
    print(json.dumps([outcomes[i] for i in sorted(outcomes)]), flush=True)
    await host.aclose()
asyncio.run(main())
"""


async def _spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, env=dict(os.environ, PYTHONPATH=SRC),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _until_parked(host: object, count: int) -> None:
    listed = host.list_outstanding_await_event_keys  # type: ignore[attr-defined]
    while len(await listed(SESSION)) < count:  # noqa: ASYNC110 - the store is the truth
        await asyncio.sleep(0.02)


async def _read_wakes(waiter: asyncio.subprocess.Process, total: int, woke: dict[int, object]) -> None:
    assert waiter.stdout is not None
    while len(woke) < total:
        line = await waiter.stdout.readline()
        if not line:
            return  # the waiter exited: the assertions below say how
        index, resolution = json.loads(line)
        woke[index] = resolution


async def test_every_waiter_wakes_while_four_processes_resolve_at_once(db_url: str, tmp_path: Path) -> None:
    total = RESOLVERS * KEYS_EACH
    host = await open_host(db_url)
    processes: list[asyncio.subprocess.Process] = []
    try:
        keys = [await host.await_event_key(SCOPE, WaitIdentity.custom(f"k{i}")) for i in range(total)]
        tokens = tmp_path / "tokens.json"
        tokens.write_text(json.dumps([k.to_token() for k in keys]))
        waiter = await _spawn(_WAITER, db_url, str(tokens))
        processes.append(waiter)
        await asyncio.wait_for(_until_parked(host, total), 60)
        resolvers = [
            await _spawn(
                _RESOLVER, db_url, str(tokens), str(r * KEYS_EACH), str((r + 1) * KEYS_EACH), str(WORKERS)
            )
            for r in range(RESOLVERS)
        ]
        processes += resolvers
        for resolver in resolvers:
            assert resolver.stdin is not None
            resolver.stdin.write(b"go\n")
        for resolver in resolvers:
            out, err = await asyncio.wait_for(resolver.communicate(), 60)
            assert resolver.returncode == 0, err.decode()
            assert json.loads(out) == [str(ResolveOutcome.ACCEPTED)] * KEYS_EACH

        woke: dict[int, object] = {}
        with contextlib.suppress(TimeoutError):  # the assertion below says what did not wake
            await asyncio.wait_for(_read_wakes(waiter, total, woke), WAKE_TIMEOUT_S)
        missing = sorted(set(range(total)) - set(woke))
        assert not missing, f"{len(missing)} of {total} waiters never woke (a lost wake-up), e.g. {missing[:5]}"
        assert woke == {i: Resolution.ok({"i": i}).to_json() for i in range(total)}
        _, err = await asyncio.wait_for(waiter.communicate(), 30)
        assert waiter.returncode == 0, err.decode()
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await host.aclose()
