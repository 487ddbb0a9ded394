"""The whole conformance kit against ``sqlite://`` hosts, a fresh database file per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from effecthost import ManualClock, open_host
from effecthost.testing.conformance import Capabilities, conformance_suite, run_all

_DIRS: list[str] = []


def _fresh_file() -> str:
    directory = tempfile.mkdtemp(prefix="effecthost-sqlite-")
    _DIRS.append(directory)
    return str(Path(directory) / "effects.db")


@pytest.fixture(autouse=True, scope="module")
def _remove_files() -> Iterator[None]:
    yield
    while _DIRS:
        shutil.rmtree(_DIRS.pop(), ignore_errors=True)


async def _fresh_sqlite_host() -> Any:
    # a fresh file per host: warm vectors must not see each other's rows
    return await open_host(f"sqlite:///{_fresh_file()}")


class _SharedFile:
    """One database file per test, a new host object per role (cold-instance vectors)."""

    def __init__(self, path: str) -> None:
        self.url = f"sqlite:///{path}"

    async def __call__(self) -> Any:
        return await open_host(self.url)


class _SqliteLeaseBackend:
    """Hosts on one file sharing a ManualClock: lease expiry and renewal are driven, not waited."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.clock = ManualClock()
        self._keeper: Any = None

    async def make_host(self, ttl_ms: int) -> Any:
        return await open_host(f"sqlite:///{self.path}", clock=self.clock, lease_ttl_s=ttl_ms / 1000)

    async def _hooks(self) -> Any:
        if self._keeper is None:
            self._keeper = await self.make_host(30_000)
        return self._keeper.substrate.lease_hooks

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        await (await self._hooks()).steal_lease(scope_key, replay_key)

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        await (await self._hooks()).expire_lease(scope_key, replay_key)

    async def advance(self, ms: int) -> None:
        self.clock.advance(ms)

    async def aclose(self) -> None:
        if self._keeper is not None:
            await self._keeper.aclose()


TestSqliteHost = conformance_suite(
    _fresh_sqlite_host, Capabilities(await_events=True, durable_journal=True, journal_store=True)
)


async def test_cold_instance_vectors_pass_on_one_sqlite_file(db_path: str) -> None:
    """Spec 8.5: each role is a different host object over one file."""
    report = await run_all(_SharedFile(db_path), Capabilities(cold_instances=True))
    assert report.passed, [r for r in report.results if not r.passed]
    assert "effect_host_await_events_cold_instance" in [r.name for r in report.results]


async def test_lease_fencing_vectors_pass_on_sqlite_with_manual_clock(db_path: str) -> None:
    """Spec 6.1: the four lease-fencing vectors, deterministic through an injected clock."""
    backend = _SqliteLeaseBackend(db_path)
    try:
        report = await run_all(
            _SharedFile(db_path), Capabilities(await_events=False, lease_backend=backend)
        )
    finally:
        await backend.aclose()
    failures = [r for r in report.results if not r.passed]
    assert not failures, failures
    assert sum(r.name.startswith("lease_fencing") for r in report.results) == 4
