"""The whole conformance kit against the real PostgreSQL server, one test (and schema) per vector.

Every host a vector opens shares the test's schema, so the cold-instance vectors see one
substrate through many host objects, exactly as separate worker processes would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pg_support import HostMaker

from effecthost import DurableEffectHost, InlineEffectHost
from effecthost.testing.conformance import Capabilities, vectors


class PostgresLeaseBackend:
    """Lease fencing through real leases: the database clock runs, so ``advance`` really waits."""

    def __init__(self, make: HostMaker) -> None:
        self._make = make

    async def make_host(self, ttl_ms: int) -> Any:
        return await self._make(lease_ttl_s=ttl_ms / 1000)

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        host = await self._make()
        await host.substrate.lease_hooks.steal_lease(scope_key, replay_key)  # type: ignore[union-attr]

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        host = await self._make()
        await host.substrate.lease_hooks.expire_lease(scope_key, replay_key)  # type: ignore[union-attr]

    async def advance(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)


def _caps(make: HostMaker | None) -> Capabilities:
    backend = PostgresLeaseBackend(make) if make is not None else _NAMES_ONLY
    return Capabilities(
        await_events=True,
        durable_journal=True,
        cold_instances=True,
        journal_store=True,
        lease_backend=backend,
    )


_NAMES_ONLY: Any = object()  # vectors() only needs a non-None backend to list the lease vectors
VECTOR_NAMES = [name for name, _ in vectors(InlineEffectHost, _caps(None))]


def test_every_kit_part_is_claimed() -> None:
    """The PostgreSQL host runs the seed suites, the later vectors, cold instances, fencing and the
    store-level browsing vectors."""
    assert "effect_host_await_events_cold_instance" in VECTOR_NAMES
    assert sum(n.startswith("lease_fencing") for n in VECTOR_NAMES) == 4
    assert "effect_controller_concurrent_replay_deterministic" in VECTOR_NAMES
    assert "journal_store_lists_effects_in_pages" in VECTOR_NAMES


@pytest.mark.parametrize("name", VECTOR_NAMES)
async def test_conformance_vector(name: str, make_host: HostMaker) -> None:
    """Each conformance vector holds on PostgreSQL."""

    async def make() -> DurableEffectHost:
        # lease=None: open_host's default lease timings
        return await make_host()

    vector = dict(vectors(make, _caps(make_host)))[name]
    await vector()
