"""A private PostgreSQL cluster that a test may stop, crash and restart.

The shared server (``EFFECTHOST_TEST_POSTGRES_URL``) must never be restarted, so restart tests
run their own cluster: ``initdb`` into a temporary directory, one ``postgres`` on a free port of
127.0.0.1 (its unix socket inside that directory), trust authentication. ``private_cluster()``
always stops it (``pg_ctl stop -m immediate``) and deletes the directory, even when a test fails.

Binaries come from ``EFFECTHOST_TEST_PG_BIN`` (default ``/usr/lib/postgresql/15/bin``). initdb
refuses to run as root, so under root every command runs as the ``postgres`` OS user (runuser).
Missing binaries: under CI (``CI=true``) the tests FAIL with the reason; elsewhere they skip.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pytest

PG_BIN = Path(os.environ.get("EFFECTHOST_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"  # the account the cluster runs as when the tests run as root
StopMode = Literal["smart", "fast", "immediate"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing() -> str:
    """Why no private cluster can be started here ("" when one can)."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).is_file():
            return f"PostgreSQL server binaries not found: {PG_BIN / tool} (set EFFECTHOST_TEST_PG_BIN)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is missing (initdb refuses root)"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root but there is no {OS_USER!r} OS user to run initdb as"
    return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """One cluster in ``root``: ``url`` stays the same across stops, crashes and restarts."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        self._log = root / "server.log"
        self._ctl_log = root / "pg_ctl.log"

    # ---- commands -------------------------------------------------------------------------

    def _argv(self, tool: str, *args: str) -> list[str]:
        argv = [str(PG_BIN / tool), *args]
        return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv

    def _ctl_args(self, action: str, mode: StopMode | None = None) -> list[str]:
        args = [action, "-D", str(self.data), "-w", "-t", "30"]
        if mode is not None:
            args += ["-m", mode]
        if action in ("start", "restart"):
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            args += ["-l", str(self._log), "-o", options]
        return self._argv("pg_ctl", *args)

    def _failed(self, what: str, returncode: int) -> AssertionError:
        tails = []
        for log in (self._ctl_log, self._log):
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-15:]
                tails.append(f"--- {log.name} ---\n" + "\n".join(lines))
        return AssertionError(f"{what} exited {returncode}\n" + "\n".join(tails))

    def run(self, tool: str, *args: str, check: bool = True) -> int:
        """Run a server tool synchronously (setup and teardown)."""
        with self._ctl_log.open("ab") as out:
            code = subprocess.run(self._argv(tool, *args), stdout=out, stderr=out, check=False).returncode
        if check and code != 0:
            raise self._failed(f"{tool} {' '.join(args)}", code)
        return code

    async def pg_ctl(self, action: str, mode: StopMode | None = None) -> None:
        """``pg_ctl <action> -w`` without blocking the event loop (the hosts' tasks keep running)."""
        argv = self._ctl_args(action, mode)
        with self._ctl_log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=out)
            code = await proc.wait()
        if code != 0:
            raise self._failed(f"pg_ctl {action}", code)

    # ---- lifecycle ------------------------------------------------------------------------

    async def stop(self, mode: StopMode) -> None:
        await self.pg_ctl("stop", mode)

    async def start(self) -> None:
        await self.pg_ctl("start")

    async def restart(self, mode: StopMode) -> None:
        """A real restart: ``fast`` ends sessions cleanly; ``immediate`` is a crash (the next start
        replays the WAL)."""
        await self.pg_ctl("restart", mode)

    def running(self) -> bool:
        return self.run("pg_ctl", "status", "-D", str(self.data), check=False) == 0

    def ensure_running(self) -> None:
        """Start the server when an earlier test left it stopped."""
        if not self.running():
            with self._ctl_log.open("ab") as out:
                code = subprocess.run(self._ctl_args("start"), stdout=out, stderr=out, check=False).returncode
            if code != 0:
                raise self._failed("pg_ctl start", code)


@contextmanager
def private_cluster() -> Iterator[PrivateServer]:
    """initdb, start, yield the server; always stop it and delete its directory."""
    reason = _missing()
    if reason:
        if _in_ci():
            pytest.fail(f"{reason} (CI must run the PostgreSQL restart tests)")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="effecthost-pg-"))
    try:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        server = PrivateServer(root, _free_port())
        server.run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres", "--no-sync")
        server.ensure_running()
        try:
            yield server
        finally:
            # immediate: nothing is worth a clean shutdown, and a hung session must not block it
            server.run("pg_ctl", "stop", "-D", str(server.data), "-m", "immediate", "-w", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
