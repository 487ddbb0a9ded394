"""``effecthost await list|peek|resolve`` and the turn verbs against the Temporal engine (``--url
temporal://...``): the cases are tests/engine_cli_cases.py, shared with the other engine."""

from __future__ import annotations

from engine_cli_cases import (  # noqa: F401 - pytest collects the shared cases from here
    test_the_cli_lists_and_resolves_a_turns_wait,
    test_the_turn_verbs_start_show_list_and_cancel_on_the_engine,
    test_verbs_an_engine_cannot_serve_are_refused_with_a_code,
)
