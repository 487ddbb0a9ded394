"""The turn-record store of every first-party substrate, through ``host.substrate.turns``.

One test body per rule, run on memory, a SQLite file and the PostgreSQL server. The transitions
themselves are pure (``lifecycle.transitions``); what is checked here is that each store applies
them atomically, filters and orders as the Protocol says, and publishes wake-ups after commits.
"""

from __future__ import annotations

import asyncio
import dataclasses

from effecthost import open_host
from effecthost._private.core import canonical
from effecthost._private.lifecycle import transitions
from effecthost._private.lifecycle.model import (
    RUNNABLE_TOPIC,
    TurnRecord,
    TurnStatus,
    ended_topic,
    is_runnable,
)
from effecthost._private.lifecycle.store import TurnStore


def _store(host: object) -> TurnStore:
    turns = host.substrate.turns  # type: ignore[attr-defined]
    assert turns is not None
    return turns  # type: ignore[no-any-return]


def _new(turn_id: str, *, name: str = "fn", session: str = "s", now: int = 1_000) -> TurnRecord:
    return transitions.new_turn(session, turn_id, name, '{"x":1}', now)


async def test_insert_is_idempotent_and_keeps_the_first(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        turns = _store(host)
        first = await turns.insert(_new("t1"))
        again = await turns.insert(dataclasses.replace(_new("t1"), input_json='{"x":2}'))
        assert again == first
        assert await turns.get("s", "t1") == first
        assert await turns.get("s", "nope") is None


async def test_every_field_round_trips(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        turns = _store(host)
        await turns.insert(_new("t1"))
        full = TurnRecord(
            "s", "t1", "fn", '{"x":1}', TurnStatus.WAITING, 1_000, 2_000,
            result_json='{"r":"é\\u0000"}', error_json='{"code":"c","message":"m"}', attempts=3,
            owner="", lease_expires_at_ms=0, waiting_json='{"kind":"wait"}', wake_at_ms=9_000,
            wait_key_id="abc", cancel_requested=True, resumes=2, meta_json='{"m":[1]}',
        )  # fmt: skip
        stored = await turns.update("s", "t1", lambda _: full)
        assert stored == full
        assert await turns.get("s", "t1") == full


async def test_update_writes_only_what_the_change_returns(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        turns = _store(host)
        record = await turns.insert(_new("t1"))
        assert await turns.update("s", "t1", lambda _: None) == record
        assert await turns.update("s", "missing", lambda r: r) is None
        claimed = await turns.update("s", "t1", transitions.claim("w1", 2_000, 500))
        assert claimed is not None and claimed.owner == "w1" and claimed.status is TurnStatus.RUNNING
        # a fenced change from another owner writes nothing
        after = await turns.update("s", "t1", transitions.complete("w2", "1", 2_100))
        assert after == claimed


async def test_claim_takes_exactly_the_runnable_turns_oldest_first(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        turns = _store(host)
        now = 10_000
        await turns.insert(_new("pending-late", now=3_000))
        await turns.insert(_new("pending-early", now=2_000))
        await turns.insert(_new("other-name", name="other", now=1_000))
        for turn_id, status, wake in (
            ("due", TurnStatus.SLEEPING, now),
            ("later", TurnStatus.SLEEPING, now + 1),
        ):
            await turns.insert(_new(turn_id, now=1_500))
            await turns.update(
                "s", turn_id, lambda r, s=status, w=wake: dataclasses.replace(r, status=s, wake_at_ms=w)
            )
        await turns.insert(_new("waiting-no-wake", now=1_500))
        await turns.update(
            "s", "waiting-no-wake", lambda r: dataclasses.replace(r, status=TurnStatus.WAITING)
        )
        for turn_id, expires in (("held-live", now + 1), ("held-expired", now)):
            await turns.insert(_new(turn_id, now=1_600))
            await turns.update("s", turn_id, transitions.claim("dead", now - 500, expires - now + 500))
        await turns.insert(_new("done", now=100))
        await turns.update("s", "done", lambda r: dataclasses.replace(r, status=TurnStatus.COMPLETED))

        everything = await turns.list_turns()
        expected = sorted(
            (r for r in everything if r.name == "fn" and is_runnable(r, now)),
            key=lambda r: (r.created_at_ms, r.session_id, r.turn_id),
        )
        assert [r.turn_id for r in expected] == ["due", "held-expired", "pending-early", "pending-late"]
        claimed = await turns.claim_runnable(["fn"], now, 3, transitions.claim("me", now, 1_000))
        assert [r.turn_id for r in claimed] == ["due", "held-expired", "pending-early"]
        assert all(r.owner == "me" and r.status is TurnStatus.RUNNING for r in claimed)
        rest = await turns.claim_runnable(None, now, 10, transitions.claim("me", now, 1_000))
        assert sorted(r.turn_id for r in rest) == ["other-name", "pending-late"]
        assert await turns.claim_runnable(None, now, 10, transitions.claim("me", now, 1_000)) == []


async def test_concurrent_claimers_never_share_a_turn(backend_url: str) -> None:
    async with await open_host(backend_url) as a, await open_host(backend_url) as b:
        for i in range(40):
            await _store(a).insert(_new(f"t{i:02}"))

        async def drain(host: object, owner: str) -> list[str]:
            got: list[str] = []
            while batch := await _store(host).claim_runnable(
                None, 5_000, 3, transitions.claim(owner, 5_000, 60_000)
            ):
                got += [r.turn_id for r in batch]
                await asyncio.sleep(0)
            return got

        first, second = await asyncio.gather(drain(a, "a"), drain(b, "b"))
        assert sorted(first + second) == [f"t{i:02}" for i in range(40)]
        assert not set(first) & set(second)


async def test_next_wake_and_listing(backend_url: str) -> None:
    async with await open_host(backend_url) as host:
        turns = _store(host)
        assert await turns.next_wake_ms(None) is None
        await turns.insert(_new("a", session="s1", now=5_000))
        await turns.insert(_new("b", session="s2", now=4_000))
        await turns.update(
            "s2", "b", lambda r: dataclasses.replace(r, status=TurnStatus.SLEEPING, wake_at_ms=7_000)
        )
        await turns.insert(_new("c", session="s1", name="other", now=6_000))
        await turns.update("s1", "c", transitions.claim("w", 6_000, 100))
        assert await turns.next_wake_ms(None) == 5_000
        assert await turns.next_wake_ms(["other"]) == 6_100
        assert await turns.next_wake_ms(["none"]) is None
        assert [r.turn_id for r in await turns.list_turns()] == ["b", "a", "c"]
        assert [r.turn_id for r in await turns.list_turns(session_id="s1")] == ["a", "c"]
        assert [r.turn_id for r in await turns.list_turns(status=TurnStatus.SLEEPING)] == ["b"]
        assert [r.turn_id for r in await turns.list_turns(limit=1, offset=1)] == ["a"]


async def test_wake_ups_reach_another_host_on_the_substrate(backend_url: str) -> None:
    async with await open_host(backend_url) as writer, await open_host(backend_url) as reader:
        runnable = _store(reader).watch(RUNNABLE_TOPIC)
        ended = _store(reader).watch(ended_topic("s", "t1"))
        try:
            await asyncio.sleep(0.05)  # a cross-process substrate starts listening
            await _store(writer).insert(_new("t1"))
            await asyncio.wait_for(runnable.event.wait(), 5)
            await asyncio.wait_for(ended.event.wait(), 5)
            ended.event.clear()
            await _store(writer).update("s", "t1", transitions.claim("w", 1_000, 60_000))
            await asyncio.wait_for(ended.event.wait(), 5)
            ended.event.clear()
            await _store(writer).update("s", "t1", transitions.complete("w", "42", 1_100))
            await asyncio.wait_for(ended.event.wait(), 5)
        finally:
            runnable.close()
            ended.close()


async def test_each_claim_records_its_drive_in_the_meta_and_keeps_the_rest(backend_url: str) -> None:
    """The console's executed-vs-replayed timeline reads drive starts from the meta: each claim
    (a worker's batch claim or a single update) appends ``[attempt, now]``, with the claim's own
    write, and leaves what others keep there (an interceptor's ``carried``) alone."""
    async with await open_host(backend_url) as host:
        turns = _store(host)
        carried = '{"carried":{"traceparent":"00-ab-cd-01"}}'
        await turns.insert(dataclasses.replace(_new("t-drives"), meta_json=carried))
        first = await turns.claim_runnable(None, 5_000, 10, transitions.claim("w1", 5_000, 100))
        assert [r.turn_id for r in first] == ["t-drives"]
        released = await turns.update("s", "t-drives", transitions.release("w1", 5_050))
        assert released is not None
        again = await turns.update("s", "t-drives", transitions.claim("w2", 6_000, 100))
        assert again is not None and again.attempts == 2
        stored = await turns.get("s", "t-drives")
        assert stored is not None
        assert canonical.loads(stored.meta_json) == {
            "carried": {"traceparent": "00-ab-cd-01"},
            "drives": [[1, 5_000], [2, 6_000]],
        }


def test_the_meta_keeps_the_newest_drives_only() -> None:
    meta = "{}"
    for n in range(1, transitions.DRIVES_KEPT + 6):
        meta = transitions.with_drive(meta, n, n * 10)
    drives = canonical.loads(meta)["drives"]
    assert len(drives) == transitions.DRIVES_KEPT and drives[0] == [6, 60] and drives[-1][0] == 105
