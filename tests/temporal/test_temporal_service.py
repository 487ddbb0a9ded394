"""``effecthost serve`` and the turn commands on a ``temporal://`` URL, against the real Temporal
dev server (the cases: tests/engine_service_cases.py, shared with Restate)."""

from __future__ import annotations

import pytest
from temporal_engine import TemporalEngine

from engine_service_cases import (  # noqa: F401 - pytest collects the shared cases from here
    EngineTarget,
    test_the_page_lists_turns_and_approves_a_wait_on_the_engine,
    test_the_service_refuses_what_an_engine_cannot_serve_with_a_code,
    test_the_service_starts_awaits_lists_and_cancels_turns_on_the_engine,
    test_turns_result_awaits_a_turn_on_the_engine_and_through_the_service,
)


@pytest.fixture
def engine_target(engine: TemporalEngine) -> EngineTarget:
    return engine.target
