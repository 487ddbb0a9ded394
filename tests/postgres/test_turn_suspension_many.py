"""Thousands of turns parked on waits under one worker, resolved from another process in random
order: every one completes with the value it was resolved with (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

from pg_support import schema_url

from effecthost import Turn, TurnStatus, Worker, durable_turn, open_host

RESOLVER = textwrap.dedent(
    """
    import asyncio, json, random, sys
    from effecthost import Resolution, open_host

    async def main(url, sessions):
        async with await open_host(url) as host:
            keys = []
            for session in sessions:
                keys += await host.list_outstanding_await_event_keys(session)
            random.Random(5).shuffle(keys)
            for key in keys:
                session = key.scope.session_id
                await host.resolve_await_event(key, Resolution.ok({"for": session}))
            print(json.dumps({"resolved": len(keys)}))

    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
    """
)


@durable_turn(name="parked_many")
async def parked(turn: Turn, i: int) -> object:
    answer = await turn.wait("go", question={"i": i})
    return {"i": i, "answer": answer.value}


async def _park_and_resolve(url: str, count: int) -> None:
    sessions = [f"s{i}" for i in range(count)]
    async with await open_host(url) as host:
        handles = [
            await host.start_turn(parked, session_id=session, turn_id="t", input={"i": i})
            for i, session in enumerate(sessions)
        ]
        async with Worker(host, [parked], concurrency=200, suspend_after_s=0.01) as worker:
            for _ in range(3000):
                waiting = await host.list_turns(status=TurnStatus.WAITING, limit=count)
                if len(waiting) == count and worker.active == 0:
                    break
                await asyncio.sleep(0.05)
            # no task holds a turn, and each suspended exactly once (no drive ended any other way)
            assert (worker.active, worker.suspended, worker.completed) == (0, count, 0)
            resolver = await asyncio.create_subprocess_exec(
                sys.executable, "-c", RESOLVER, url, json.dumps(sessions),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
            )  # fmt: skip
            out, err = await asyncio.wait_for(resolver.communicate(), 120)
            assert resolver.returncode == 0, err.decode()
            assert json.loads(out) == {"resolved": count}
            results = [await handle.result(timeout=120) for handle in handles]
    assert results == [{"i": i, "answer": {"for": f"s{i}"}} for i in range(count)]


async def test_thousands_of_suspended_turns_on_sqlite(tmp_path: object) -> None:
    await _park_and_resolve(f"sqlite:///{tmp_path}/parked.db", 2000)


async def test_a_thousand_suspended_turns_on_postgres(pg_url: str, pg_schema: str) -> None:
    await _park_and_resolve(schema_url(pg_url, pg_schema), 1000)
