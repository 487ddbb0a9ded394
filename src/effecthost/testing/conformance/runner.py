"""Run the kit against a host factory and report, or turn it into a pytest test class."""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..._private.core.identity import ExecutionScope
from . import browse, cold, later, lease, seed
from ._support import HostFactory, Hosts

Vector = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Capabilities:
    """Which parts of the kit a host claims. Undeclared parts are not run (and reported so)."""

    await_events: bool = True
    durable_journal: bool = False  # journals outcomes: replay, diagnostics, retirement vectors
    cold_instances: bool = False  # make() opens another object over the same substrate
    journal_store: bool = False  # host.journal is a JournalStore (DurableEffectHost): browsing reads
    lease_backend: lease.LeaseFencingBackend | None = None


@dataclass
class VectorResult:
    name: str
    passed: bool
    seconds: float
    error: str | None = None


@dataclass
class ConformanceReport:
    results: list[VectorResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def summary(self) -> str:
        ok = sum(r.passed for r in self.results)
        return f"{ok} passed, {len(self.results) - ok} failed"


def _fresh_scope() -> ExecutionScope:
    return ExecutionScope.turn(f"conformance-{uuid.uuid4().hex[:12]}", "conformance-turn")


def _controller_vector(
    make: HostFactory, body: Callable[[Any, Callable[[], None]], Awaitable[None]]
) -> Vector:
    async def run() -> None:
        async with Hosts(make) as hosts:
            host = await hosts.new()
            controller = host.scoped(_fresh_scope()).controller
            await body(controller, controller.start_replay)

    return run


def _mismatch_vector(make: HostFactory) -> Vector:
    async def run() -> None:
        async with Hosts(make) as hosts:
            host = await hosts.new()
            code = f"{host.backend}_effect_replay_hash_conflict"
            await later.effect_controller_replay_mismatch_diagnostics(
                host.scoped(_fresh_scope()).controller, code
            )

    return run


def vectors(make: HostFactory, caps: Capabilities) -> list[tuple[str, Vector]]:
    """The applicable vectors, in the seed's order first, then the later ones."""
    out: list[tuple[str, Vector]] = [("effect_host", lambda: seed.effect_host(make))]
    if caps.await_events:
        out += [
            ("effect_host_await_events", lambda: seed.effect_host_await_events(make)),
            (
                "effect_host_await_event_session_cancel_resolves_outstanding_waits",
                lambda: later.effect_host_await_event_session_cancel_resolves_outstanding_waits(make),
            ),
            ("effect_host_lists_outstanding_waits", lambda: later.effect_host_lists_outstanding_waits(make)),
        ]
    if caps.durable_journal:
        out += [
            ("effect_host_durable_steps", lambda: seed.effect_host_durable_steps(make)),
            (
                "effect_controller_durable_steps_replay",
                _controller_vector(make, seed.effect_controller_durable_steps_replay),
            ),
            (
                "effect_controller_concurrent_replay_deterministic",
                _controller_vector(make, seed.effect_controller_concurrent_replay_deterministic),
            ),
            ("effect_controller_replay_mismatch_diagnostics", _mismatch_vector(make)),
            ("effect_host_retires_session_journal", lambda: later.effect_host_retires_session_journal(make)),
            ("effect_host_retires_process_journal", lambda: later.effect_host_retires_process_journal(make)),
        ]
    if caps.journal_store:
        out.append(
            (
                "journal_store_lists_effects_in_pages",
                lambda: browse.journal_store_lists_effects_in_pages(make),
            )
        )
    if caps.cold_instances:
        out.append(
            (
                "effect_host_await_events_cold_instance",
                lambda: cold.effect_host_await_events_cold_instance(make),
            )
        )
    backend = caps.lease_backend
    if backend is not None:
        out += [
            (
                "lease_fencing_renews_long_running_lease",
                lambda: lease.lease_fencing_renews_long_running_lease(backend),
            ),
            (
                "lease_fencing_reports_lease_lost_when_stolen",
                lambda: lease.lease_fencing_reports_lease_lost_when_stolen(backend),
            ),
            (
                "lease_fencing_rejects_finalize_after_expiry",
                lambda: lease.lease_fencing_rejects_finalize_after_expiry(backend),
            ),
            (
                "lease_fencing_reclaims_explicitly_expired_lease",
                lambda: lease.lease_fencing_reclaims_explicitly_expired_lease(backend),
            ),
        ]
    return out


async def run_all(
    make: HostFactory,
    caps: Capabilities,
    *,
    on_result: Callable[[VectorResult], None] | None = None,
) -> ConformanceReport:
    """Run every applicable vector; a failure is recorded and the run goes on."""
    report = ConformanceReport()
    for name, vector in vectors(make, caps):
        started = time.perf_counter()
        try:
            await vector()
        except Exception as exc:  # a vector's failure is data for the report
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            result = VectorResult(name, False, time.perf_counter() - started, detail)
        else:
            result = VectorResult(name, True, time.perf_counter() - started)
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return report


def conformance_suite(make: HostFactory, caps: Capabilities | None = None) -> type:
    """A pytest test class with one async test per applicable vector::

        from effecthost.testing.conformance import Capabilities, conformance_suite
        TestMyHost = conformance_suite(lambda: MyHost(), Capabilities(durable_journal=True))

    (needs pytest-asyncio in auto mode, or mark the module with ``pytest.mark.asyncio``).
    """
    caps = caps or Capabilities()
    namespace: dict[str, Any] = {}
    for name, vector in vectors(make, caps):
        namespace[f"test_{name}"] = _as_test(vector)
    return type("ConformanceSuite", (), namespace)


def _as_test(vector: Vector) -> Callable[[Any], Awaitable[None]]:
    async def test(self: Any) -> None:
        await vector()

    return test
