"""The conformance kit's await-event vectors through an engine's deployment-side host, one set of
cases for both engines: every host object talks to the same server (the cold-instance vectors use
a new host object per role). tests/restate's and tests/temporal's test_*_await_events.py give the
``make_host`` fixture (a new host object per call) and keep the tests that are each engine's own
(forged tokens refused before the engine is touched), and say which vectors do not apply there, and why."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from effecthost import (
    AwaitEventKey,
    CancelToken,
    DurableStep,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
)
from effecthost.testing.conformance import cold as cold_vectors
from effecthost.testing.conformance import (
    effect_host,
    effect_host_await_event_session_cancel_resolves_outstanding_waits,
    effect_host_await_events,
    effect_host_lists_outstanding_waits,
    effect_host_lists_registered_unresolved_waits,
)
from effecthost.testing.conformance._support import HostPool
from engine_adapter import EngineUnderTest

MakeHost = Callable[[], Any]  # a RestateEffectHost or a TemporalEffectHost


async def test_scope_factory(make_host: MakeHost) -> None:
    await effect_host(make_host)


async def test_await_event_vectors(make_host: MakeHost) -> None:
    await effect_host_await_events(make_host)


async def test_session_cancel_sweep(make_host: MakeHost) -> None:
    await effect_host_await_event_session_cancel_resolves_outstanding_waits(make_host)


async def test_outstanding_waits(make_host: MakeHost) -> None:
    await effect_host_lists_outstanding_waits(make_host)


@pytest.mark.parametrize(
    "vector",
    [
        "cold_mint_resolve_observe_all_identities",
        "cold_first_writer_wins",
        "cold_key_stability",
        "cold_auth_tamper_matrix",
        "cold_revocation_survives_reopen",
        "cold_cancel_sweep_excludes_turn_control",
        "cold_closing_a_host_ends_its_parked_waits",
    ],
)
async def test_cold_instance_vectors(make_host: MakeHost, vector: str) -> None:
    async with HostPool(make_host) as hosts:
        await getattr(cold_vectors, vector)(hosts)


async def test_cold_outstanding_waits_across_host_objects(make_host: MakeHost) -> None:
    async with HostPool(make_host) as hosts:
        await effect_host_lists_registered_unresolved_waits(
            await hosts.new(), await hosts.new(), await hosts.new()
        )


async def test_effects_refuse_outside_an_engine_invocation(engine: EngineUnderTest) -> None:
    """Effects run inside a Restate handler or a Temporal turn workflow only: the host's own
    controller refuses one with the engine's code."""
    envelope = EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope.for_turn("s", "t", 0, 0), "e", EffectKind.DURABLE_STEP, "k"),
        DurableStep("e", {}),
    )
    controller = engine.host.scoped(ExecutionScope.turn("s", "t")).controller
    with pytest.raises(EffectHostError) as caught:
        await controller.execute_effect(envelope, LocalExecutor.durable_step(lambda v: v))
    assert caught.value.code == engine.outside_scope_error


async def refuse_every_altered_key(host: Any, key: AwaitEventKey, session_id: str) -> None:
    """Every single-character change of ``key``'s token, and of each of its fields, is refused
    by ``host`` with the same answer (resolve, peek, await); the engine-specific tests around it
    show that none of it reached the engine."""
    token = key.to_token()
    alphabet = "0123456789abcdefABCDEF-_."
    rng = secrets.SystemRandom()
    refused = 0
    for i in range(len(token)):
        text = token[:i] + rng.choice([c for c in alphabet if c != token[i]]) + token[i + 1 :]
        try:
            forged = type(key).from_token(text)
        except EffectHostError as err:
            assert err.code == "await_event_token_malformed"
            refused += 1
            continue
        assert (
            await host.resolve_await_event(forged, Resolution.ok("forged"))
            == ResolveOutcome.UNKNOWN_OR_REVOKED
        )
        with pytest.raises(EffectHostError) as caught:
            await host.peek_await_event(forged)
        assert caught.value.code == "await_event_unknown_or_revoked"
        with pytest.raises(EffectHostError) as caught:
            await host.await_await_event(forged, CancelToken(), None)
        assert caught.value.code == "await_event_unknown_or_revoked"
        refused += 1
    fields = [
        dataclasses.replace(key, signature=key.signature.upper()),
        dataclasses.replace(key, key_id=key.key_id + "0"),
        dataclasses.replace(key, scope=ExecutionScope.turn(session_id, "t2")),
        dataclasses.replace(key, scope=ExecutionScope.turn(session_id + "x", "t")),
        dataclasses.replace(key, wait=WaitIdentity.custom("approvE")),
        dataclasses.replace(key, wait=WaitIdentity.tool_completion("approve")),
    ]
    for forged in fields:
        assert (
            await host.resolve_await_event(forged, Resolution.ok("forged"))
            == ResolveOutcome.UNKNOWN_OR_REVOKED
        )
    assert refused == len(token)
