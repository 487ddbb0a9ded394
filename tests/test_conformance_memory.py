"""The conformance kit against the in-process hosts (inline, recording, memory://), and the kit's
own parts: the report, the suite classes, the fault-injecting stores."""

from __future__ import annotations

import ast
import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from effecthost import (
    CancelToken,
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    InlineEffectHost,
    LocalExecutor,
    ManualClock,
    RecordingEffectHost,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    ScopedController,
    WaitIdentity,
    open_host,
)
from effecthost.testing import Faults
from effecthost.testing.conformance import (
    Capabilities,
    HostPool,
    conformance_suite,
    effect_host_durable_steps,
    run_all,
    vectors,
)
from effecthost.testing.suites import AwaitEventsSuite, DurableHostSuite, HostSuite, TurnsSuite

pytest_plugins = ["effecthost.testing.pytest_plugin"]


def _memory_url() -> str:
    return f"memory://kit-{uuid.uuid4().hex}"


class TestMemoryHost(TurnsSuite, DurableHostSuite):
    """memory:// claims every part; one fresh named substrate per test."""

    @pytest.fixture
    def effecthost_url(self) -> str:
        return _memory_url()


class TestInlineHost(HostSuite, AwaitEventsSuite):
    @pytest_asyncio.fixture
    async def effecthost_host_factory(self) -> AsyncIterator[HostPool[InlineEffectHost]]:
        async with HostPool(InlineEffectHost) as pool:
            yield pool


class TestRecordingHost(HostSuite):
    """The recording host runs the seed's scope-factory suite (it has no await events)."""

    @pytest_asyncio.fixture
    async def effecthost_host_factory(self) -> AsyncIterator[HostPool[RecordingEffectHost]]:
        async with HostPool(RecordingEffectHost) as pool:
            yield pool


class TestHostsBehindFaults(DurableHostSuite):
    """With no fault armed the wrapped stores are transparent: every vector still holds."""

    @pytest.fixture
    def effecthost_url(self, effecthost_faults: Faults) -> str:
        return effecthost_faults.url(_memory_url())


async def test_inline_host_runs_seed_durable_steps() -> None:
    """The seed runs effect_host_durable_steps against the inline host: it advertises durable effects."""
    await effect_host_durable_steps(InlineEffectHost)


def test_suite_classes_carry_every_vector_once() -> None:
    """The classes, ``vectors()`` and so the CLI report name the same vectors, in the same order."""
    every = Capabilities(
        durable_journal=True, cold_instances=True, journal_store=True, lease_backend=_NoLeases()
    )
    names = [name for name, _ in vectors(InlineEffectHost, every)]
    tests = [n.removeprefix("test_") for n in dir(DurableHostSuite) if n.startswith("test_")]
    assert sorted(tests) == sorted(names) and len(set(names)) == len(names) == 16
    for name in tests:  # strict mode: every test is marked, none relies on asyncio_mode=auto
        marks = getattr(DurableHostSuite, f"test_{name}").pytestmark
        assert [m.name for m in marks] == ["asyncio"], name


class _NoLeases:
    """vectors() only lists the lease vectors for a backend; nothing here runs them."""

    async def make_host(self, ttl_ms: int) -> Any:
        raise AssertionError("not run")

    async def steal_lease(self, scope_key: str, replay_key: str) -> None: ...

    async def expire_lease(self, scope_key: str, replay_key: str) -> None: ...

    async def advance(self, ms: int) -> None: ...


async def test_report_records_a_failing_vector_instead_of_stopping() -> None:
    """A host that forgets scope validation fails that vector; the run goes on and says so."""

    class Sloppy(InlineEffectHost):
        def scoped(self, scope: Any) -> Any:
            valid = super().scoped(ExecutionScope.turn("sloppy", "turn"))
            return ScopedController(valid.controller, scope)  # the invalid scope goes through

    report = await run_all(Sloppy, Capabilities())
    by_name = {r.name: r for r in report.results}
    assert not by_name["effect_host"].passed
    assert "invalid execution scope must be rejected" in (by_name["effect_host"].error or "")
    assert by_name["effect_host_await_events"].passed
    assert not report.passed


@pytest.mark.parametrize("cap", [Capabilities(), Capabilities(durable_journal=True)])
def test_conformance_suite_has_one_marked_test_per_vector(cap: Capabilities) -> None:
    suite = conformance_suite(InlineEffectHost, cap)
    names = [n for n in vars(suite) if n.startswith("test_")]
    assert "test_effect_host" in names and "test_effect_host_await_events" in names
    assert ("test_effect_controller_durable_steps_replay" in names) == cap.durable_journal
    assert all([m.name for m in getattr(suite, n).pytestmark] == ["asyncio"] for n in names)


class _ThirdParty:
    """A host of another kind (not a DurableEffectHost) that journals through one underneath."""

    def __init__(self, inner: DurableEffectHost) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_host_of_another_kind_passes_the_journal_part_with_its_own_mismatch_code() -> None:
    """Only a DurableEffectHost is held to ``{backend}_effect_replay_hash_conflict`` (its
    ``backend`` is declared); another host passes with any code that is a replay mismatch."""
    url = _memory_url()
    async with HostPool.for_url(url) as pool:

        async def make() -> Any:
            return _ThirdParty(await pool())

        report = await run_all(make, Capabilities(durable_journal=True, journal_store=True))
    assert report.passed, [r for r in report.results if not r.passed]
    assert "effect_controller_replay_mismatch_diagnostics" in [r.name for r in report.results]


# ---- faults ------------------------------------------------------------------------------------


def _step(key: str) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("faults", "turn", 0, 0), key, EffectKind.DURABLE_STEP, key
        ),
        DurableStep(key, {"k": key}),
    )


SCOPE = ExecutionScope.turn("faults", "turn")


@pytest_asyncio.fixture
async def faulty(
    effecthost_faults: Faults,
) -> AsyncIterator[tuple[Faults, ManualClock, HostPool[DurableEffectHost]]]:
    clock = ManualClock()
    async with HostPool.for_url(effecthost_faults.url(_memory_url()), clock=clock, lease_ttl_s=1) as pool:
        yield effecthost_faults, clock, pool


def _counting(runs: list[int]) -> LocalExecutor:
    def run(value: Any) -> Any:
        runs.append(1)
        return {"run": len(runs)}

    return LocalExecutor.durable_step(run)


async def test_a_failed_finalize_is_a_coded_error_and_the_effect_is_redriven_after_the_lease(
    faulty: tuple[Faults, ManualClock, HostPool[DurableEffectHost]],
) -> None:
    faults, clock, open_ = faulty
    first, second = await open_(), await open_()
    faults.fail("finalize")
    runs: list[int] = []
    with pytest.raises(EffectHostError) as info:
        await first.scoped(SCOPE).controller.execute_effect(_step("a"), _counting(runs))
    assert info.value.code == "memory_effect_replay_store"
    assert (runs, faults.injected["finalize"]) == ([1], 1)
    # Nothing was recorded: the claim is in progress until its lease runs out, then a re-drive
    # takes it over and runs the effect again (at least once, never a lost effect).
    redrive = asyncio.ensure_future(
        second.scoped(SCOPE).controller.execute_effect(_step("a"), _counting(runs))
    )
    while clock.sleepers == 0:  # noqa: ASYNC110 - the re-drive parks on the manual clock, no Event
        await asyncio.sleep(0)
    assert not redrive.done() and runs == [1]
    clock.advance(1_001)
    assert (await redrive).into_durable_step() == {"run": 2}
    replayed = await first.scoped(SCOPE).controller.execute_effect(_step("a"), _counting(runs))
    assert replayed.into_durable_step() == {"run": 2} and runs == [1, 1]


async def test_a_finalize_whose_acknowledgement_is_lost_is_replayed_not_rerun(
    faulty: tuple[Faults, ManualClock, HostPool[DurableEffectHost]],
) -> None:
    faults, _, open_ = faulty
    host = await open_()
    faults.fail("finalize", after_write=True)
    runs: list[int] = []
    with pytest.raises(EffectHostError) as info:
        await host.scoped(SCOPE).controller.execute_effect(_step("b"), _counting(runs))
    assert info.value.code == "memory_effect_replay_store"
    again = await (await open_()).scoped(SCOPE).controller.execute_effect(_step("b"), _counting(runs))
    assert again.into_durable_step() == {"run": 1} and runs == [1]


async def test_a_failed_store_terminal_is_a_coded_error_and_the_promise_stays_pending(
    faulty: tuple[Faults, ManualClock, HostPool[DurableEffectHost]],
) -> None:
    faults, _, open_ = faulty
    host: EffectHost = await open_()
    key = await host.await_event_key(SCOPE, WaitIdentity.custom("approval"))
    faults.fail("store_terminal")
    with pytest.raises(EffectHostError) as info:
        await host.resolve_await_event(key, Resolution.ok("yes"))
    assert info.value.code == "memory_await_event_store"
    assert await host.peek_await_event(key) is None
    assert await host.resolve_await_event(key, Resolution.ok("yes")) == ResolveOutcome.ACCEPTED
    assert await host.await_await_event(key, CancelToken(), None) == Resolution.ok("yes")
    assert faults.calls["store_terminal"] == 2 and faults.injected["store_terminal"] == 1


async def test_faults_apply_in_order_skip_and_clear(
    faulty: tuple[Faults, ManualClock, HostPool[DurableEffectHost]],
) -> None:
    faults, _, open_ = faulty
    host = await open_()
    faults.fail("list_sessions", skip=1).fail("list_sessions", times=None)
    assert await host.browser.list_sessions() == []  # skipped
    for _ in range(3):
        with pytest.raises(EffectHostError, match="memory_effect_replay_store"):
            await host.browser.list_sessions()
    faults.clear()
    assert await host.browser.list_sessions() == []
    assert (faults.calls["list_sessions"], faults.injected["list_sessions"]) == (5, 3)


def test_faults_name_only_store_calls() -> None:
    with pytest.raises(EffectHostError) as info:
        Faults().fail("finalise")
    assert info.value.code == "invalid_argument"
    with pytest.raises(EffectHostError):
        Faults().fail("finalize", times=0)


async def test_a_faulty_url_must_name_live_faults() -> None:
    url = Faults().url("memory://gone")  # the Faults is dropped at once
    with pytest.raises(EffectHostError) as info:
        await open_host(url)
    assert info.value.code == "host_url_invalid"


# ---- the kit's own imports -----------------------------------------------------------------------

KIT = Path(__file__).resolve().parents[1] / "src" / "effecthost" / "testing"
PUBLIC_ROOTS = {"effecthost", "effecthost.store", "effecthost.interceptors"}


def _imports(path: Path) -> list[str]:
    package = ".".join(path.relative_to(KIT.parents[1]).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            found.append(".".join([*base, *([node.module] if node.module else [])]))
    return found


def test_the_kit_imports_only_public_roots() -> None:
    """A third party's host is checked with what a third party can import: nothing of _private."""
    for path in sorted(KIT.rglob("*.py")):
        for module in _imports(path):
            if module.startswith("effecthost"):
                assert module in PUBLIC_ROOTS or module.startswith("effecthost.testing"), (path.name, module)
