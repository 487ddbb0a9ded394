"""The conformance kit's await-event vectors through the deployment-side host (the cases:
tests/engine_await_event_cases.py, shared with the other engine), against the real
dev server and the tests' worker (every host object shares one client; the cold-instance vectors
use a new host object per role).

Not applicable here, with the reason:
- lease fencing (``effect_controller_lease_fencing``): Temporal has no leases; a workflow run has
  one writer (a workflow task is fenced by Temporal itself).
- ``cold_replayed_parked_owner``: it runs an ``await_event`` effect through ``host.scoped()``; on
  Temporal effects run inside a turn workflow only
  (``temporal_effect_host_requires_workflow_scope``); the turn tests park and replay waits inside
  real workflows instead.
- journal retirement: Temporal retires a closed workflow's history by the namespace's retention
  (``retire_effect_journal`` answers 0).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from temporal_stack import Stack
from temporalio.client import Client

from effecthost import (
    EffectHostError,
    ExecutionScope,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
)
from effecthost.engines.temporal import TemporalEffectHost
from effecthost.engines.temporal.devserver import free_port
from engine_await_event_cases import (  # noqa: F401 - pytest collects the shared cases from here
    refuse_every_altered_key,
    test_await_event_vectors,
    test_cold_instance_vectors,
    test_cold_outstanding_waits_across_host_objects,
    test_effects_refuse_outside_an_engine_invocation,
    test_outstanding_waits,
    test_scope_factory,
    test_session_cancel_sweep,
)


@pytest.fixture
async def make_host(temporal_stack: Stack) -> AsyncIterator[Callable[[], TemporalEffectHost]]:
    client = await Client.connect(temporal_stack.server.address)

    def make() -> TemporalEffectHost:
        return TemporalEffectHost(client, temporal_stack.config)

    yield make


async def test_every_altered_token_is_refused_before_temporal_is_touched(
    temporal_stack: Stack, session_id: str
) -> None:
    """Token tampering against the Temporal-backed resolve path: every single-character change of
    the token (and of each key field) is refused with the same answer before any RPC: the host's
    client points at a port nothing listens on (lazily connected), so an RPC would raise
    ``temporal_client`` instead of answering. The genuine key then resolves on the real server."""
    real = await TemporalEffectHost.connect(temporal_stack.server.address, temporal_stack.config)
    dead = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    host = TemporalEffectHost(dead, temporal_stack.config)
    key = await real.await_event_key(ExecutionScope.turn(session_id, "t"), WaitIdentity.custom("approve"))
    await refuse_every_altered_key(host, key, session_id)
    with pytest.raises(EffectHostError) as caught:  # the dead client really would have failed
        await host.resolve_await_event(key, Resolution.ok("real"))
    assert caught.value.code == "temporal_client"
    assert await real.peek_await_event(key) is None  # nothing materialised
    assert await real.resolve_await_event(key, Resolution.ok("real")) == ResolveOutcome.ACCEPTED
