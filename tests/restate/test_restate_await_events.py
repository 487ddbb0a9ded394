"""The conformance kit's await-event vectors through the deployment-side host (the cases:
tests/engine_await_event_cases.py, shared with the other engine), against a real
restate-server: every host object talks to the same server (the cold-instance vectors use a new
host object per role).

Not applicable here, with the reason:
- lease fencing (``effect_controller_lease_fencing``): Restate has no leases; its single-writer
  invocations fence a turn (a retried attempt replaces the previous one).
- ``cold_replayed_parked_owner``: it runs an ``await_event`` effect through ``host.scoped()``;
  on Restate effects run inside a handler only (``restate_effect_host_requires_handler_scope``);
  the turn tests park and replay waits inside real invocations instead.
- journal retirement: Restate retires journals by its own retention (``retire_effect_journal``
  answers 0).
"""

from __future__ import annotations

import httpx
import pytest
from restate_stack import Stack

from effecthost import (
    ExecutionScope,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
)
from effecthost.engines.restate import RestateEffectHost
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
def make_host(restate_stack: Stack):  # type: ignore[no-untyped-def]
    def make() -> RestateEffectHost:
        return RestateEffectHost(
            restate_stack.server.ingress_url, restate_stack.server.admin_url, restate_stack.config
        )

    return make


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that reach Restate (a refused key must send none)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_every_altered_token_is_refused_before_restate_is_touched(
    restate_stack: Stack, session_id: str
) -> None:
    """Token tampering against the Restate-backed resolve path: every single-character change of
    the token (and of each key field) is refused with the same answer, and no request is sent,
    so nothing can be learned from the server (no oracle); the genuine key still resolves."""
    host = RestateEffectHost(
        restate_stack.server.ingress_url, restate_stack.server.admin_url, restate_stack.config
    )
    transport = CountingTransport()
    host._client = httpx.AsyncClient(transport=transport, timeout=30)
    try:
        key = await host.await_event_key(ExecutionScope.turn(session_id, "t"), WaitIdentity.custom("approve"))
        transport.requests.clear()
        await refuse_every_altered_key(host, key, session_id)
        assert transport.requests == [], "a refused key must not reach Restate"
        assert await host.peek_await_event(key) is None  # nothing materialised
        assert await host.resolve_await_event(key, Resolution.ok("real")) == ResolveOutcome.ACCEPTED
    finally:
        await host.aclose()
