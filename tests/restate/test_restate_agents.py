"""The agents and the pydantic-ai integration on Restate, and every kind of effect across a kill of
the endpoint: the cases are tests/engine_agent_cases.py, shared with the other engine."""

from __future__ import annotations

from engine_agent_cases import (  # noqa: F401 - pytest collects the shared cases from here
    test_a_pydantic_ai_run_is_replayed_after_its_process_dies,
    test_an_agent_run_is_replayed_after_its_process_dies,
    test_an_effecthost_agent_turn_runs_and_a_restart_replays_it,
    test_tools_models_and_code_run_once_across_a_kill,
)
