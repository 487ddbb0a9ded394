"""The journal on PostgreSQL: the database clock fences leases, claim races have one winner."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from pg_support import HostMaker, admin, step_envelope

from effecthost import (
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LocalExecutor,
    SystemClock,
)
from effecthost._private.journal.model import (
    Claimed,
    ClaimRequest,
    HashConflict,
    LeaseFence,
    ReplayError,
    ReplayOutcome,
)

SCOPE = ExecutionScope.turn("journal-session", "journal-turn")


class SkewedClock(SystemClock):
    """A worker whose wall clock is off by ``offset_ms``."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return super().now_ms() + self.offset_ms


def _request(replay_key: str, owner: str, token: str, *, ttl_ms: int = 30_000) -> ClaimRequest:
    return ClaimRequest(
        scope_key=SCOPE.journal_key(), replay_key=replay_key, session_id=SCOPE.session_id,
        envelope_hash="h" * 64, envelope_json='{"x":1}', effect_kind="durable_step",
        effect_id=replay_key, owner=owner, token=token, ttl_ms=ttl_ms, sleep_ms=None, strict=False,
    )


async def test_worker_clock_skew_cannot_break_fencing(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    """A worker an hour slow claims; one an hour fast must wait, not take over; leases are DB time."""
    slow = await make_host(clock=SkewedClock(-3_600_000))
    fast = await make_host(clock=SkewedClock(+3_600_000))
    envelope = step_envelope("journal-session", "journal-turn", "skew")
    entered, release = asyncio.Event(), asyncio.Event()
    ran_fast: list[Any] = []

    async def slow_step(value: Any) -> Any:
        entered.set()
        await release.wait()
        return {"by": "slow"}

    owner = asyncio.ensure_future(
        slow.scoped(SCOPE).controller.execute_effect(envelope, LocalExecutor.durable_step(slow_step))
    )
    await entered.wait()
    row = await fast.browser.get_row(SCOPE.journal_key(), "skew")
    assert row is not None and row.status == "in_progress"
    async with await admin(pg_url) as conn:
        cur = await conn.execute("SELECT floor(extract(epoch FROM now()) * 1000)::bigint")
        db_now = int((await cur.fetchone() or [0])[0])
    # stamped on the database clock: within a minute of it, nowhere near either worker's skew
    assert abs(row.lease_expires_at_ms - (db_now + 30_000)) < 60_000
    follower = asyncio.ensure_future(
        fast.scoped(SCOPE).controller.execute_effect(
            envelope, LocalExecutor.durable_step(lambda v: ran_fast.append(v) or {"by": "fast"})
        )
    )
    await asyncio.sleep(0.2)  # a few busy polls by the fast worker
    assert not follower.done() and ran_fast == []
    release.set()
    assert (await owner).into_durable_step() == {"by": "slow"}
    assert (await follower).into_durable_step() == {"by": "slow"}
    assert ran_fast == []


async def test_concurrent_claims_of_one_key_have_exactly_one_winner(make_host: HostMaker) -> None:
    hosts = [await make_host() for _ in range(3)]
    requests = [
        (host, _request("race", f"owner-{i}", f"owner-{i}:{j}"))
        for i, host in enumerate(hosts)
        for j in range(5)
    ]
    decisions = await asyncio.gather(*(host.journal.claim(req) for host, req in requests))
    winners = [d for d in decisions if isinstance(d, Claimed)]
    assert len(winners) == 1
    assert all(type(d).__name__ == "Busy" for d in decisions if d is not winners[0])


async def test_a_claim_on_a_row_recorded_elsewhere_decides_on_that_row(make_host: HostMaker) -> None:
    """The first-run insert finds the key taken (another worker recorded it after this worker's
    preload): the claim then decides on the recorded row in its next statement — replay of an
    outcome or an error, or a hash conflict for a changed envelope — and writes nothing."""
    writer, reader = await make_host(), await make_host()
    for key, status in (("done", "completed"), ("broke", "failed")):
        won = await writer.journal.claim(_request(key, "writer", f"writer:{key}"))
        assert isinstance(won, Claimed)
        body = '{"value":1}' if status == "completed" else '{"code":"x","message":"y"}'
        outcome, error = (body, None) if status == "completed" else (None, body)
        assert await writer.journal.finalize(won.fence, status, outcome, error)
    replayed = await reader.journal.claim(_request("done", "reader", "reader:1"))
    assert replayed == ReplayOutcome('{"value":1}', None)
    failed = await reader.journal.claim(_request("broke", "reader", "reader:2"))
    assert failed == ReplayError('{"code":"x","message":"y"}')
    changed = dataclasses.replace(_request("done", "reader", "reader:3"), envelope_hash="c" * 64)
    conflict = await reader.journal.claim(changed)
    assert isinstance(conflict, HashConflict) and conflict.recorded_hash == "h" * 64
    row = await reader.browser.get_row(SCOPE.journal_key(), "done")
    assert row is not None and row.lease_owner is None and row.status == "completed"


async def test_finalize_and_renew_need_the_live_fence(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    host = await make_host()
    journal: Any = host.journal
    claimed = await journal.claim(_request("fence", "me", "me:1"))
    assert isinstance(claimed, Claimed)
    wrong = LeaseFence(SCOPE.journal_key(), "fence", "h" * 64, "me", "me:other")
    assert not await journal.renew(wrong, 30_000)
    assert not await journal.finalize(wrong, "completed", '{"type":"sleep"}', None)
    assert await journal.renew(claimed.fence, 30_000)
    await journal.expire_lease(SCOPE.journal_key(), "fence")
    assert not await journal.finalize(claimed.fence, "completed", '{"type":"sleep"}', None)


async def test_preload_reads_only_settled_rows(make_host: HostMaker) -> None:
    host = await make_host()
    controller = host.scoped(SCOPE).controller
    await controller.execute_effect(
        step_envelope("journal-session", "journal-turn", "ok"), LocalExecutor.durable_step(lambda v: 1)
    )

    def boom(value: Any) -> Any:
        raise EffectHostError("journal_test_error", "recorded failure")

    try:
        await controller.execute_effect(
            step_envelope("journal-session", "journal-turn", "err"), LocalExecutor.durable_step(boom)
        )
    except EffectHostError as err:
        assert err.code == "journal_test_error"
    journal: Any = host.journal
    await journal.claim(_request("open", "me", "me:1"))
    rows = await journal.preload(SCOPE.journal_key())
    assert sorted((r.replay_key, r.status) for r in rows) == [("err", "failed"), ("ok", "completed")]


async def test_strict_replay_of_a_missing_row_is_coded(make_host: HostMaker) -> None:
    host = await make_host()
    host.start_replay()
    try:
        await host.scoped(SCOPE).controller.execute_effect(
            step_envelope("journal-session", "journal-turn", "absent"), LocalExecutor.unavailable()
        )
    except EffectHostError as err:
        assert err.code == ErrorCode.POSTGRES_EFFECT_REPLAY_MISSING
    else:
        raise AssertionError("strict replay must refuse a missing row")
    assert await host.browser.get_row(SCOPE.journal_key(), "absent") is None
