"""The conformance kit's controller vectors inside a real workflow, on TemporalController."""

from __future__ import annotations

import uuid

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
