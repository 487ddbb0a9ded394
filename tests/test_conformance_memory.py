"""The whole conformance kit against the in-process hosts: inline, recording and memory://."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from effecthost import ExecutionScope, InlineEffectHost, ManualClock, RecordingEffectHost, open_host
from effecthost.testing.conformance import (
    Capabilities,
    conformance_suite,
    effect_host,
    run_all,
)


async def _fresh_memory_host() -> Any:
    # a fresh substrate per host: warm vectors must not see each other's rows
    return await open_host(f"memory://warm-{uuid.uuid4().hex}")


class _SharedMemory:
    """One substrate per test, many host objects over it (cold-instance vectors)."""

    def __init__(self) -> None:
        self.url = f"memory://cold-{uuid.uuid4().hex}"
        self.hosts: list[Any] = []

    async def __call__(self) -> Any:
        host = await open_host(self.url)
        self.hosts.append(host)  # keep the named substrate alive for the whole test
        return host


class _MemoryLeaseBackend:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.url = f"memory://lease-{uuid.uuid4().hex}"
        self.hosts: list[Any] = []

    async def make_host(self, ttl_ms: int) -> Any:
        host = await open_host(self.url, clock=self.clock, lease_ttl_s=ttl_ms / 1000)
        self.hosts.append(host)  # keeps the named substrate alive
        return host

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        await self.hosts[0].substrate.lease_hooks.steal_lease(scope_key, replay_key)

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        await self.hosts[0].substrate.lease_hooks.expire_lease(scope_key, replay_key)

    async def advance(self, ms: int) -> None:
        self.clock.advance(ms)


TestInlineHost = conformance_suite(InlineEffectHost, Capabilities(await_events=True))
TestMemoryHost = conformance_suite(
    _fresh_memory_host, Capabilities(durable_journal=True, journal_store=True)
)


async def test_seed_effect_host_suite_passes_for_recording_host() -> None:
    """The recording host runs the seed's scope-factory suite (it has no await events)."""
    await effect_host(RecordingEffectHost)


async def test_inline_host_runs_seed_durable_steps() -> None:
    """The seed runs effect_host_durable_steps against the inline host: it advertises durable effects."""
    from effecthost.testing.conformance import effect_host_durable_steps

    await effect_host_durable_steps(InlineEffectHost)


async def test_cold_instance_vectors_pass_on_shared_memory_substrate() -> None:
    report = await run_all(_SharedMemory(), Capabilities(cold_instances=True))
    assert report.passed, [r for r in report.results if not r.passed]
    assert [r.name for r in report.results][-1] == "effect_host_await_events_cold_instance"


async def test_lease_fencing_vectors_pass_on_memory_with_manual_clock() -> None:
    report = await run_all(
        InlineEffectHost, Capabilities(await_events=False, lease_backend=_MemoryLeaseBackend())
    )
    failures = [r for r in report.results if not r.passed]
    assert not failures, failures
    assert sum(r.name.startswith("lease_fencing") for r in report.results) == 4


async def test_report_records_a_failing_vector_instead_of_stopping() -> None:
    """A host that forgets scope validation fails that vector; the run goes on and says so."""

    class Sloppy(InlineEffectHost):
        def scoped(self, scope: Any) -> Any:
            from effecthost import ScopedController

            valid = super().scoped(ExecutionScope.turn("sloppy", "turn"))
            return ScopedController(valid.controller, scope)  # the invalid scope goes through

    report = await run_all(Sloppy, Capabilities())
    by_name = {r.name: r for r in report.results}
    assert not by_name["effect_host"].passed
    assert "invalid execution scope must be rejected" in (by_name["effect_host"].error or "")
    assert by_name["effect_host_await_events"].passed
    assert not report.passed


@pytest.mark.parametrize("cap", [Capabilities(), Capabilities(durable_journal=True)])
def test_suite_classes_have_one_test_per_vector(cap: Capabilities) -> None:
    suite = conformance_suite(InlineEffectHost, cap)
    names = [n for n in vars(suite) if n.startswith("test_")]
    assert "test_effect_host" in names and "test_effect_host_await_events" in names
    assert ("test_effect_controller_durable_steps_replay" in names) == cap.durable_journal
