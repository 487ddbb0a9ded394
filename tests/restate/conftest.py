"""One restate-server and one endpoint (hypercorn) per test session, on free 127.0.0.1 ports.

The server comes from the npm registry (``make install`` puts it under ``.engines/restate``);
its data directory is a temporary one; both processes are stopped by PID at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from restate_engine import RestateEngine
from restate_stack import Stack

from effecthost.engines.restate import (
    Endpoint,
    RestateConfig,
    RestateEffectHost,
    RestateServer,
    find_server_binary,
)

HERE = Path(__file__).resolve().parent  # the engine's own turns; its parent, tests/, the shared ones


@pytest.fixture(scope="session")
def restate_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    find_server_binary()  # a clear error when `make install` did not run
    base = tmp_path_factory.mktemp("restate")
    secret = RestateConfig.new_secret()
    marks, kills = base / "marks", base / "kills"
    server = RestateServer(base / "data", log_path=base / "server.log", loopback_dns=True).start()
    endpoint = Endpoint(
        "endpoint_app:app",
        cwd=HERE,
        env={
            "EFFECTHOST_RESTATE_SECRET": secret,
            "EFFECTHOST_TEST_MARKS": str(marks),
            "EFFECTHOST_TEST_KILLS": str(kills),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
        },
        log_path=base / "endpoint.log",
    )
    try:
        endpoint.start()
        server.register(endpoint.url)
        yield Stack(server, endpoint, RestateConfig(bytes.fromhex(secret)), marks, kills)
    finally:
        endpoint.stop()
        server.stop()


@pytest.fixture
async def restate_host(restate_stack: Stack) -> AsyncIterator[RestateEffectHost]:
    host = RestateEffectHost(
        restate_stack.server.ingress_url, restate_stack.server.admin_url, restate_stack.config
    )
    try:
        yield host
    finally:
        await host.aclose()


@pytest.fixture
def engine(restate_host: RestateEffectHost, restate_stack: Stack) -> RestateEngine:
    """Restate for the cases both engines share (tests/engine_*_cases.py)."""
    return RestateEngine.of(restate_host, restate_stack)


@pytest.fixture
def session_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"
