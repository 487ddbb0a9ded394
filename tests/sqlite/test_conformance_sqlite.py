"""The whole conformance kit against ``sqlite://`` hosts, one test (and database file) per vector.

Every host a vector opens is on the test's file, so the cold-instance vectors see one substrate
through many host objects; the lease vectors share a ManualClock, so expiry is driven, not waited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from effecthost import DurableEffectHost, EffectHostError, ExecutionScope
from effecthost.testing import Faults
from effecthost.testing.conformance import HostPool
from effecthost.testing.conformance._support import record_step
from effecthost.testing.suites import DurableHostSuite, TurnsSuite

pytest_plugins = ["effecthost.testing.pytest_plugin"]


class TestSqliteHost(TurnsSuite, DurableHostSuite):
    @pytest.fixture
    def effecthost_url(self, db_url: str) -> str:
        return db_url


@pytest_asyncio.fixture
async def faulty(db_url: str, effecthost_faults: Faults) -> AsyncIterator[HostPool[DurableEffectHost]]:
    async with HostPool.for_url(effecthost_faults.url(db_url)) as pool:
        yield pool


async def test_a_failed_claim_is_a_coded_store_error_and_records_nothing(
    faulty: HostPool[DurableEffectHost], effecthost_faults: Faults, db_url: str
) -> None:
    """A claim that never reached the file leaves no row: the next drive runs the effect."""
    host = await faulty()
    scope = ExecutionScope.turn("sqlite-faults", "turn")
    effecthost_faults.fail("claim")
    with pytest.raises(EffectHostError) as info:
        await record_step(host, scope, "step")
    assert info.value.code == "sqlite_effect_replay_store"
    assert await host.browser.list_effects(scope.journal_key()) == []
    await record_step(host, scope, "step")
    async with HostPool.for_url(db_url) as plain:  # the file itself, without the wrapper
        rows = await (await plain()).browser.list_effects(scope.journal_key())
    assert [(r.replay_key, r.status) for r in rows] == [("step", "completed")]


async def test_a_failed_await_store_call_is_the_backends_coded_error(
    faulty: HostPool[DurableEffectHost], effecthost_faults: Faults
) -> None:
    host = await faulty()
    effecthost_faults.fail("revoke_session")
    with pytest.raises(EffectHostError) as info:
        await host.revoke_await_events_for_session("sqlite-faults")
    assert info.value.code == "sqlite_await_event_store"
    await host.revoke_await_events_for_session("sqlite-faults")
