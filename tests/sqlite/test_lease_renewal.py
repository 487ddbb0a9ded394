"""Lease renewal on the system clock: many executions that outlive their ttl several times keep
their leases through the host's one renewal timer, while another host waits them out."""

from __future__ import annotations

import asyncio
from typing import Any

from effecthost import ExecutionScope, LocalExecutor, open_host
from effecthost.interceptors import EffectCounter

from ._helpers import step

TTL_S = 0.6  # renewal every 200 ms: 400 ms of slack for a stalled loop on a busy CI box
RUN_S = 2.0  # each execution outlives three ttls


async def test_concurrent_long_executions_keep_their_leases_on_the_system_clock(db_path: str) -> None:
    url = f"sqlite:///{db_path}"
    owner_counts, rival_counts = EffectCounter(), EffectCounter()
    owner = await open_host(url, lease_ttl_s=TTL_S, interceptors=[owner_counts])
    rival = await open_host(url, lease_ttl_s=TTL_S, interceptors=[rival_counts])
    try:
        scope = ExecutionScope.turn("renewal-session", "turn")
        keys = [f"long-{i}" for i in range(12)]
        started = asyncio.Event()
        running = 0

        async def slow(value: Any) -> Any:
            nonlocal running
            running += 1
            if running == len(keys):
                started.set()
            await asyncio.sleep(RUN_S)
            return {"done": value["key"]}

        owned = [
            asyncio.ensure_future(
                owner.scoped(scope).controller.execute_effect(
                    step("renewal-session", key), LocalExecutor.durable_step(slow)
                )
            )
            for key in keys
        ]
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(2 * TTL_S)  # every lease would have expired by now without renewal

        rival_calls: list[str] = []

        def never(value: Any) -> Any:
            rival_calls.append(value["key"])
            return {"done": "by the rival"}

        rivals = [
            asyncio.ensure_future(
                rival.scoped(scope).controller.execute_effect(
                    step("renewal-session", key), LocalExecutor.durable_step(never)
                )
            )
            for key in keys
        ]
        outcomes = await asyncio.wait_for(asyncio.gather(*owned), 10)
        replayed = await asyncio.wait_for(asyncio.gather(*rivals), 10)
        assert [o.into_durable_step() for o in outcomes] == [{"done": k} for k in keys]
        assert [o.into_durable_step() for o in replayed] == [{"done": k} for k in keys]
        assert rival_calls == []  # the rival waited the live leases out and replayed
        assert (owner_counts.executed, rival_counts.executed) == (len(keys), 0)
    finally:
        await owner.aclose()
        await rival.aclose()
