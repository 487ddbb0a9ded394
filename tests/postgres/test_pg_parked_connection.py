"""The parked connection: a turn driven one effect at a time skips the pool, and callers that
overlap still get connections from it, even from a pool of one."""

from __future__ import annotations

import asyncio
from typing import Any

from pg_support import HostMaker, step_envelope, terminate

from effecthost import ExecutionScope, LocalExecutor, Resolution, WaitIdentity
from effecthost.interceptors import EffectCounter

SCOPE = ExecutionScope.turn("parked-session", "parked-turn")


def pool_requests(host: Any) -> int:
    return int(host.journal._db.pool.get_stats().get("requests_num", 0))


async def test_a_sequential_turn_reuses_one_connection_without_the_pool(make_host: HostMaker) -> None:
    host = await make_host()
    controller = host.scoped(SCOPE).controller
    await controller.execute_effect(
        step_envelope("parked-session", "parked-turn", "warm"), LocalExecutor.durable_step(lambda v: 0)
    )
    before = pool_requests(host)
    for i in range(20):
        out = await controller.execute_effect(
            step_envelope("parked-session", "parked-turn", f"k{i}", i), LocalExecutor.durable_step(lambda v: v)
        )
        assert out.into_durable_step() == i
    assert pool_requests(host) == before  # 40 store calls, no pool checkout


async def test_overlapping_callers_share_a_pool_of_one_without_waiting_it_out(make_host: HostMaker) -> None:
    counted = EffectCounter()
    host = await make_host(pool_max_size=1, connect_timeout_s=5, interceptors=[counted])

    async def slow_step(value: Any) -> Any:
        await asyncio.sleep(0.01)  # the turns interleave between their store calls
        return value

    async def turn(index: int) -> list[Any]:
        scope = ExecutionScope.turn("parked-session", f"t{index}")
        controller = host.scoped(scope).controller
        results = []
        for i in range(5):
            out = await controller.execute_effect(
                step_envelope("parked-session", f"t{index}", f"k{i}", i), LocalExecutor.durable_step(slow_step)
            )
            results.append(out.into_durable_step())
        return results

    async def resolver() -> None:
        for i in range(5):
            key = await host.await_event_key(SCOPE, WaitIdentity.custom(f"w{i}"))
            await host.resolve_await_event(key, Resolution.ok(i))

    outcomes = await asyncio.wait_for(asyncio.gather(*(turn(t) for t in range(6)), resolver()), 20)
    assert all(len(result) == 5 for result in outcomes[:6])
    assert counted.executed == 30


async def test_a_parked_connection_killed_by_the_server_is_replaced(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    controller = host.scoped(SCOPE).controller
    await controller.execute_effect(
        step_envelope("parked-session", "parked-turn", "before"), LocalExecutor.durable_step(lambda v: 1)
    )
    assert host.journal._db._parked is not None  # type: ignore[attr-defined]
    assert await terminate(pg_url, f"%{pg_schema}%") >= 1  # the parked connection's backend too
    await asyncio.sleep(0.05)  # the FATAL message reaches the socket
    out = await controller.execute_effect(
        step_envelope("parked-session", "parked-turn", "after"), LocalExecutor.durable_step(lambda v: 2)
    )
    assert out.into_durable_step() == 2
