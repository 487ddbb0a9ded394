"""The conformance kit as pytest classes to subclass, one test per vector.

Each class is one part a host claims; combine the parts yours has::

    pytest_plugins = ["effecthost.testing.pytest_plugin"]   # in your conftest.py

    class TestMyHost(HostSuite, AwaitEventsSuite, DurableJournalSuite):
        @pytest.fixture
        def effecthost_url(self, tmp_path):
            return f"myscheme://{tmp_path}"

Tests take their hosts from the ``effecthost_host_factory`` fixture (lease fencing from
``effecthost_lease_backend``) of :mod:`effecthost.testing.pytest_plugin`, and are marked
``asyncio``: they run under pytest-asyncio's default strict mode. The names match
:func:`~effecthost.testing.conformance.vectors` and the ``effecthost conformance`` report.
"""

from __future__ import annotations

import pytest

from .conformance import browse, cold, later, lease, parts, seed, turns
from .conformance._support import HostFactory
from .conformance.lease import LeaseFencingBackend


class HostSuite:
    """The seed's ``effect_host``: scope metadata, missing scope ids, static scopes."""

    @pytest.mark.asyncio
    async def test_effect_host(self, effecthost_host_factory: HostFactory) -> None:
        await seed.effect_host(effecthost_host_factory)


class AwaitEventsSuite:
    """Await events on one host: the seed's suite, the session cancel sweep, outstanding waits."""

    @pytest.mark.asyncio
    async def test_effect_host_await_events(self, effecthost_host_factory: HostFactory) -> None:
        await seed.effect_host_await_events(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_host_await_event_session_cancel_resolves_outstanding_waits(
        self, effecthost_host_factory: HostFactory
    ) -> None:
        await later.effect_host_await_event_session_cancel_resolves_outstanding_waits(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_host_lists_outstanding_waits(self, effecthost_host_factory: HostFactory) -> None:
        await later.effect_host_lists_outstanding_waits(effecthost_host_factory)


class DurableJournalSuite:
    """A host that journals outcomes: durable steps, replay, mismatch diagnostics, retirement."""

    @pytest.mark.asyncio
    async def test_effect_host_durable_steps(self, effecthost_host_factory: HostFactory) -> None:
        await seed.effect_host_durable_steps(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_controller_durable_steps_replay(self, effecthost_host_factory: HostFactory) -> None:
        await parts.controller_durable_steps_replay(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_controller_concurrent_replay_deterministic(
        self, effecthost_host_factory: HostFactory
    ) -> None:
        await parts.controller_concurrent_replay(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_controller_replay_mismatch_diagnostics(
        self, effecthost_host_factory: HostFactory
    ) -> None:
        await parts.controller_replay_mismatch(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_host_retires_session_journal(self, effecthost_host_factory: HostFactory) -> None:
        await later.effect_host_retires_session_journal(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_effect_host_retires_process_journal(self, effecthost_host_factory: HostFactory) -> None:
        await later.effect_host_retires_process_journal(effecthost_host_factory)


class BrowsingSuite:
    """``host.browser`` lists a scope's rows whole and in pages, in run order (``seq``)."""

    @pytest.mark.asyncio
    async def test_journal_store_lists_effects_in_pages(self, effecthost_host_factory: HostFactory) -> None:
        await browse.journal_store_lists_effects_in_pages(effecthost_host_factory)


class ColdInstanceSuite:
    """Each role on a different host object over one substrate: the factory must open a new
    object over the *same* substrate at every call (the plugin's URL factory does)."""

    @pytest.mark.asyncio
    async def test_effect_host_await_events_cold_instance(self, effecthost_host_factory: HostFactory) -> None:
        await cold.effect_host_await_events_cold_instance(effecthost_host_factory)


class LeaseFencingSuite:
    """Lease renewal, a stolen lease, finalize after expiry, reclaiming an expired lease (spec 6.1)."""

    @pytest.mark.asyncio
    async def test_lease_fencing_renews_long_running_lease(
        self, effecthost_lease_backend: LeaseFencingBackend
    ) -> None:
        await lease.lease_fencing_renews_long_running_lease(effecthost_lease_backend)

    @pytest.mark.asyncio
    async def test_lease_fencing_reports_lease_lost_when_stolen(
        self, effecthost_lease_backend: LeaseFencingBackend
    ) -> None:
        await lease.lease_fencing_reports_lease_lost_when_stolen(effecthost_lease_backend)

    @pytest.mark.asyncio
    async def test_lease_fencing_rejects_finalize_after_expiry(
        self, effecthost_lease_backend: LeaseFencingBackend
    ) -> None:
        await lease.lease_fencing_rejects_finalize_after_expiry(effecthost_lease_backend)

    @pytest.mark.asyncio
    async def test_lease_fencing_reclaims_explicitly_expired_lease(
        self, effecthost_lease_backend: LeaseFencingBackend
    ) -> None:
        await lease.lease_fencing_reclaims_explicitly_expired_lease(effecthost_lease_backend)


class TurnsSuite:
    """Durable turns (``Substrate(turns=...)``): run once and replay, the key convention, mismatch
    on changed code, retries and resume, suspension and resolve, durable deadlines, cancel, and the
    refusals outside a turn, fork. The factory opens hosts over one substrate."""

    @pytest.mark.asyncio
    async def test_turn_runs_once_and_replays(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_runs_once_and_replays(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_keys_follow_the_convention(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_keys_follow_the_convention(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_changed_code_reports_a_mismatch(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_changed_code_reports_a_mismatch(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_retries_and_resumes(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_retries_and_resumes(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_waits_suspend_and_resume(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_waits_suspend_and_resume(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_wait_deadline_is_durable(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_wait_deadline_is_durable(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_cancel_ends_the_turn(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_cancel_ends_the_turn(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_apis_refuse_outside_a_turn(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_apis_refuse_outside_a_turn(effecthost_host_factory)

    @pytest.mark.asyncio
    async def test_turn_fork_keeps_the_first_effects(self, effecthost_host_factory: HostFactory) -> None:
        await turns.turn_fork_keeps_the_first_effects(effecthost_host_factory)


class DurableHostSuite(
    LeaseFencingSuite, ColdInstanceSuite, BrowsingSuite, DurableJournalSuite, AwaitEventsSuite, HostSuite
):
    """Every part: what each ``open_host`` host (memory, SQLite, PostgreSQL) passes. (pytest runs
    the tests of the last base first: this order runs the seed's suites first.)"""


__all__ = [
    "AwaitEventsSuite",
    "BrowsingSuite",
    "ColdInstanceSuite",
    "DurableHostSuite",
    "DurableJournalSuite",
    "HostSuite",
    "LeaseFencingSuite",
    "TurnsSuite",
]
