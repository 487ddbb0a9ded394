"""The conformance kit's controller vectors inside a real workflow, on TemporalController."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporal_stack import Stack

from effecthost.engines.temporal import TemporalEffectHost


@pytest.mark.parametrize("vector", ["durable_steps_replay", "concurrent_replay", "mismatch"])
async def test_controller_vectors_inside_a_workflow(
    temporal_host: TemporalEffectHost, temporal_stack: Stack, vector: str
) -> None:
    answer = await temporal_host.client.execute_workflow(
        "EffecthostTestVectors",
        vector,
        id=f"vectors-{vector}-{uuid.uuid4().hex[:8]}",
        task_queue=temporal_stack.config.task_queue,
    )
    assert answer.startswith("ok"), answer


def test_the_dev_server_runs_without_its_version_check(temporal_stack: Stack) -> None:
    """`temporal server start-dev` looks up version-info.temporal.io at start unless told not to:
    the server the tests start has the check off both ways (environment and dynamic config)."""
    process = temporal_stack.server.process
    assert process is not None
    environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    assert b"TEMPORAL_VERSION_CHECK_DISABLED=1" in environ
    assert b"frontend.enableServerVersionCheck=false" in argv
