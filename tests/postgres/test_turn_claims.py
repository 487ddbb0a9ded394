"""Turn claims on PostgreSQL: worker processes never claim the same turn, and the SQL of
``claim_runnable`` / ``next_wake_ms`` says exactly what ``lifecycle.model`` says."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import subprocess
import sys
import textwrap

from pg_support import HostMaker, admin, schema_url

from effecthost._private.lifecycle import transitions
from effecthost._private.lifecycle.model import TurnRecord, TurnStatus, is_runnable, next_wake_ms
from effecthost._private.lifecycle.store import Change, TurnStore
from effecthost._private.stores.postgres import turns as pg_turns

NOW = 50_000
PROCESSES, BATCH = 4, 3
#: Ids a linguistic collation orders differently from code points (the stores all use the latter).
SESSIONS = ("a-b", "ab", "B", "a", "é", "e", "Z")

_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from effecthost import open_host
    from effecthost._private.lifecycle import transitions

    async def main():
        url, owner, names, now, batch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        async with await open_host(url) as host:
            turns = host.substrate.turns
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the start
            claimed = []
            while got := await turns.claim_runnable(names, now, batch, transitions.claim(owner, now, 600_000)):
                assert len(got) <= batch
                claimed += [[r.session_id, r.turn_id] for r in got]
            print(json.dumps(claimed), flush=True)

    asyncio.run(main())
    """
)


def _store(host: object) -> TurnStore:
    turns = host.substrate.turns  # type: ignore[attr-defined]
    assert turns is not None
    return turns  # type: ignore[no-any-return]


def _set(**values: object) -> Change:
    return lambda record: dataclasses.replace(record, **values)  # type: ignore[arg-type]


async def test_four_processes_claim_each_of_400_turns_exactly_once(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    turns = _store(host)
    runnable: set[tuple[str, str]] = set()
    for i in range(400):
        session, turn_id = f"s{i % 37}", f"t{i:03}"
        await turns.insert(transitions.new_turn(session, turn_id, ("fa", "fb")[i % 2], "{}", 1_000 + i))
        # every way a turn can be runnable: pending, an expired lease, a due sleep, a woken wait
        kind = i % 4
        if kind == 1:
            await turns.update(session, turn_id, transitions.claim("dead-worker", 2_000, 1_000))
        elif kind == 2:
            await turns.update(session, turn_id, _set(status=TurnStatus.SLEEPING, wake_at_ms=NOW))
        elif kind == 3:
            await turns.update(session, turn_id, _set(status=TurnStatus.WAITING, wake_at_ms=NOW - 1))
        runnable.add((session, turn_id))
    # and turns that are not runnable at NOW, which nobody may take
    for turn_id, change in (
        ("sleeps-on", _set(status=TurnStatus.SLEEPING, wake_at_ms=NOW + 1)),
        ("waits", _set(status=TurnStatus.WAITING, wake_at_ms=None)),
        ("held", transitions.claim("live-worker", NOW, 1)),
        ("ended", _set(status=TurnStatus.COMPLETED)),
    ):
        await turns.insert(transitions.new_turn("other", turn_id, "fa", "{}", 500))
        await turns.update("other", turn_id, change)

    url = schema_url(pg_url, pg_schema)
    procs = []
    for n in range(PROCESSES):
        names = None if n % 2 == 0 else ["fa", "fb", "unused"]
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER, url, f"worker-{n}", json.dumps(names), str(NOW), str(BATCH),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        )  # fmt: skip
    for proc in procs:  # every host is open before any claims
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        assert line == b"ready\n", (line, (await proc.communicate())[1].decode())
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outputs = [await proc.communicate() for proc in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES, [err.decode() for _, err in outputs]

    by_worker = {f"worker-{n}": [tuple(k) for k in json.loads(out)] for n, (out, _) in enumerate(outputs)}
    every_claim = [k for claims in by_worker.values() for k in claims]
    assert len(every_claim) == len(set(every_claim)) == 400  # nobody claimed a turn twice
    assert set(every_claim) == runnable
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT session_id, turn_id, owner, attempts FROM "{pg_schema}".turn_records')
        rows = {(r[0], r[1]): (r[2], r[3]) for r in await cur.fetchall()}
    for owner, claims in by_worker.items():
        for key in claims:
            assert rows[key][0] == owner  # the stored owner is the one worker that claimed it
    assert rows[("other", "held")][0] == "live-worker"
    assert {rows[("other", t)][0] for t in ("sleeps-on", "waits", "ended")} == {""}
    assert await turns.claim_runnable(None, NOW, 10, transitions.claim("late", NOW, 1_000)) == []


def _random_record(rng: random.Random, i: int) -> TurnRecord:
    status = rng.choice(list(TurnStatus))
    held = rng.random() < 0.4
    near = [NOW - 1, NOW, NOW + 1, rng.randrange(0, 2 * NOW)]
    return TurnRecord(
        session_id=rng.choice(SESSIONS), turn_id=f"t{i:04}", name=rng.choice("abc"), input_json="{}",
        status=status, created_at_ms=rng.choice(near), updated_at_ms=0,
        owner="w" if held else "", lease_expires_at_ms=rng.choice(near) if held else 0,
        wake_at_ms=rng.choice([None, *near]), cancel_requested=rng.random() < 0.2,
    )  # fmt: skip


async def test_the_sql_says_what_the_model_says(make_host: HostMaker) -> None:
    turns = _store(await make_host())
    rng = random.Random(7)
    records = [_random_record(rng, i) for i in range(300)]
    for record in records:
        await turns.insert(transitions.new_turn(record.session_id, record.turn_id, record.name, "{}", 0))
        assert await turns.update(record.session_id, record.turn_id, lambda _, r=record: r) == record
    assert sorted(await turns.list_turns(limit=1_000), key=lambda r: r.turn_id) == records

    def order(r: TurnRecord) -> tuple[int, str, str]:
        return (r.created_at_ms, r.session_id, r.turn_id)

    for names in (None, ["a"], ["a", "c", "a"], ["zzz"], []):
        wanted = [r for r in records if names is None or r.name in names]
        assert await turns.next_wake_ms(names) == min(
            (t for r in wanted if (t := next_wake_ms(r)) is not None), default=None
        ), names
        for now in (NOW - 1, NOW, NOW + 1):
            # the identity change writes every runnable turn back unchanged and returns them
            claimed = await turns.claim_runnable(names, now, 1_000, lambda r: r)
            assert claimed == sorted((r for r in wanted if is_runnable(r, now)), key=order), (names, now)
            limited = await turns.claim_runnable(names, now, 5, lambda r: r)
            assert limited == claimed[:5]
    assert await turns.claim_runnable(None, NOW, 1_000, lambda _: None) == []  # nothing written


def test_the_live_predicate_names_exactly_the_terminal_states() -> None:
    terminal = "', '".join(s.value for s in TurnStatus if s.terminal)
    assert f"status NOT IN ('{terminal}')" == pg_turns.LIVE
