"""The wake directory and its sockets are the owner's only, whatever the umask (defect 1)."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator

import pytest

from effecthost import ExecutionScope, Resolution, WaitIdentity, open_host

SCOPE = ExecutionScope.turn("perm-session", "perm-turn")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: the modes must come from the code, not the environment."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def _park_and_inspect(db_url: str, wake_dir: str) -> tuple[int, list[tuple[bool, int]]]:
    host = await open_host(db_url)
    try:
        key = await host.await_event_key(SCOPE, WaitIdentity.custom("perm"))
        waiter = asyncio.ensure_future(host.await_await_event(key))
        while not await host.list_outstanding_await_event_keys(SCOPE.session_id or ""):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        paths = [os.path.join(wake_dir, name) for name in os.listdir(wake_dir)]
        sockets = [(stat.S_ISSOCK(os.lstat(p).st_mode), _mode(p)) for p in paths]
        directory = _mode(wake_dir)
        await host.resolve_await_event(key, Resolution.ok(1))
        await asyncio.wait_for(waiter, 10)
        return directory, sockets
    finally:
        await host.aclose()


@pytest.mark.usefixtures("open_umask")
async def test_a_new_wake_directory_is_0700_and_its_socket_0600(db_url: str, db_path: str) -> None:
    directory, sockets = await _park_and_inspect(db_url, db_path + ".wake")
    assert directory == 0o700
    assert sockets == [(True, 0o600)]


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_open_wake_directory_is_narrowed_to_0700(db_url: str, db_path: str) -> None:
    wake_dir = db_path + ".wake"
    os.mkdir(wake_dir)
    os.chmod(wake_dir, 0o777)  # as an earlier version (or a careless umask) left it
    directory, sockets = await _park_and_inspect(db_url, wake_dir)
    assert directory == 0o700
    assert sockets == [(True, 0o600)]
