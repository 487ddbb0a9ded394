"""Run ``restate-server`` and a Python endpoint on 127.0.0.1 for development, tests and benchmarks.

``restate-server`` is the single binary the npm registry ships as ``@restatedev/restate-server``;
``make install`` puts it under ``.engines/restate`` of the checkout (never globally). Every port
is a free one picked at start (ingress, admin, the node's own fabric port), telemetry is off and
the data directory is the caller's (a temporary one in tests). Both processes are stopped by PID.
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path

from effecthost import EffectHostError, ErrorCode

from ..kit import free_port, stop_process

#: Where ``make install`` puts the server, relative to the checkout.
ENGINE_DIR = Path(".engines") / "restate"
_BINARY = Path("node_modules") / "@restatedev" / "restate-server-linux-x64" / "bin" / "restate-server"


def find_server_binary(start: Path | None = None) -> Path:
    """``$RESTATE_SERVER_BIN``, else ``.engines/restate`` of this checkout (or a parent of
    ``start``), else ``restate-server`` on ``PATH``."""
    env = os.environ.get("RESTATE_SERVER_BIN")
    if env:
        return Path(env)
    roots = [Path(__file__).resolve(), (start or Path.cwd()).resolve()]
    for root in roots:
        for folder in [root, *root.parents]:
            candidate = folder / ENGINE_DIR / _BINARY
            if candidate.is_file():
                return candidate
    found = shutil.which("restate-server")
    if found:
        return Path(found)
    raise EffectHostError(
        ErrorCode.RESTATE_SERVER_UNAVAILABLE,
        "restate-server not found: run `make install` (npm install --prefix .engines/restate"
        " @restatedev/restate-server) or set RESTATE_SERVER_BIN",
    )


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _post_json(url: str, body: object, timeout: float = 30.0) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


@dataclass
class RestateServer:
    """One ``restate-server`` on 127.0.0.1 with its own free ports and data directory."""

    data_dir: Path
    ingress_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    node_port: int = field(default_factory=free_port)
    #: How soon Restate retries a failed invocation attempt (the invoker's first retry delay).
    retry_interval: str = "50ms"
    binary: Path | None = None
    log_path: Path | None = None
    #: restate-server looks up api.github.com at start to check for a newer release, whatever the
    #: telemetry setting, and no option turns that off. With this set, it runs in a mount namespace
    #: of its own whose /etc/resolv.conf names 127.0.0.1, so the look-up never leaves the machine.
    #: None: when possible (root and ``unshare``); True: required (tests); False: never.
    loopback_dns: bool | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self, timeout_s: float = 60.0) -> RestateServer:
        binary = self.binary or find_server_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "RESTATE_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ingress_port}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.admin_port}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.node_port}",
            "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{self.node_port}",
            "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": self.retry_interval,
            "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "1s",
            "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "256MiB",
            "RESTATE_LOG_FILTER": "warn",
        }
        argv = [
            str(binary),
            "--base-dir",
            str(self.data_dir),
            "--node-name",
            "effecthost",
            "--listen-mode",
            "tcp",
            "--default-num-partitions",
            "2",
            "--no-logo",
        ]
        log = open(self.log_path or self.data_dir / "restate-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self._with_loopback_dns(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EffectHostError(
                    ErrorCode.RESTATE_SERVER_UNAVAILABLE,
                    f"restate-server exited with {self.process.returncode}; see {self.data_dir}",
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                _get(f"{self.admin_url}/health", 1.0)
                _get(f"{self.ingress_url}/restate/health", 1.0)
                return self
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise EffectHostError(ErrorCode.RESTATE_SERVER_UNAVAILABLE, "restate-server did not become healthy")

    def _with_loopback_dns(self, argv: list[str]) -> list[str]:
        unshare = shutil.which("unshare")
        possible = unshare is not None and os.geteuid() == 0
        if self.loopback_dns is False or (self.loopback_dns is None and not possible):
            return argv
        if not possible:
            raise EffectHostError(
                ErrorCode.RESTATE_SERVER_UNAVAILABLE,
                "loopback_dns needs root and util-linux's unshare (a mount namespace of its own)",
            )
        resolv = self.data_dir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        # `exec` keeps the PID: the process we stop is restate-server itself.
        script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        return [str(unshare), "--mount", "--propagation", "private", "sh", "-c", script, str(resolv), *argv]

    def register(self, endpoint_url: str) -> dict[str, object]:
        """Register (or force-update) the deployment at ``endpoint_url`` through the admin API."""
        body = _post_json(f"{self.admin_url}/deployments", {"uri": endpoint_url, "force": True})
        answer: dict[str, object] = json.loads(body)
        return answer

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig)
        self.process = None


@dataclass
class Endpoint:
    """One process serving ``app`` (``module:attribute``) with hypercorn, HTTP/2 cleartext."""

    app: str
    port: int = field(default_factory=free_port)
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Endpoint:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "effecthost.engines.restate.serve",
                self.app,
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        if log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EffectHostError(
                    ErrorCode.RESTATE_SERVER_UNAVAILABLE,
                    f"the endpoint exited with {self.process.returncode}",
                )
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise EffectHostError(ErrorCode.RESTATE_SERVER_UNAVAILABLE, "the endpoint did not start listening")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.process, sig)
        self.process = None
