"""Run the kit against a host factory and report, or turn it into a pytest test class."""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import lease, parts
from ._support import HostFactory

Vector = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Capabilities:
    """Which parts of the kit a host claims. Undeclared parts are not run (and reported so)."""

    await_events: bool = True
    durable_journal: bool = False  # journals outcomes: replay, diagnostics, retirement vectors
    cold_instances: bool = False  # make() opens another object over the same substrate
    journal_store: bool = False  # host.browser is a JournalBrowser (DurableEffectHost): browsing reads
    turns: bool = False  # DurableEffectHosts whose substrate keeps turn records: the turn API vectors
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


def _bind(vector: Callable[[Any], Awaitable[None]], argument: Any) -> Vector:
    return lambda: vector(argument)


def vectors(make: HostFactory, caps: Capabilities) -> list[tuple[str, Vector]]:
    """The applicable vectors, in the seed's order first, then the later ones."""
    claimed = [
        (True, parts.HOST),
        (caps.await_events, parts.AWAIT_EVENTS),
        (caps.durable_journal, parts.DURABLE_JOURNAL),
        (caps.journal_store, parts.BROWSING),
        (caps.cold_instances, parts.COLD_INSTANCES),
        (caps.turns, parts.TURNS),
    ]
    out = [(name, _bind(vector, make)) for on, part in claimed if on for name, vector in part]
    backend = caps.lease_backend
    if backend is not None:
        out += [(name, _bind(vector, backend)) for name, vector in parts.LEASE_FENCING]
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

    Each test is marked ``asyncio``, so it runs under pytest-asyncio's default strict mode. The
    suite classes of :mod:`effecthost.testing.suites` do the same with the host factory taken
    from a fixture (:mod:`effecthost.testing.pytest_plugin`).
    """
    import pytest  # the testing extra; the rest of the kit (and the CLI) runs without it

    caps = caps or Capabilities()
    namespace: dict[str, Any] = {}
    for name, vector in vectors(make, caps):
        namespace[f"test_{name}"] = pytest.mark.asyncio(_as_test(vector))
    return type("ConformanceSuite", (), namespace)


def _as_test(vector: Vector) -> Callable[[Any], Awaitable[None]]:
    async def test(self: Any) -> None:
        await vector()

    return test
