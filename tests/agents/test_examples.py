"""The agent examples run as a user runs them (``python examples/NAME.py``) and print what they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "support_agent": [
        "alice: asked to approve refund({\"amount_eur\": 40, \"order_id\": \"A-1\"})",
        "  agent: Refunded 40 EUR on A-1. (final_answer, 2 model requests)",
        "  agent: I could not refund you: not run: rejected by the approver: the order arrived on time"
        " (final_answer, 2 model requests)",
        "  agent: Refunded 25 EUR on C-3. (final_answer, 2 model requests)",
        "refunds made: [{'order_id': 'A-1', 'amount_eur': 40}, {'order_id': 'C-3', 'amount_eur': 25}]",
    ],
    "research_agent": [
        "answer: Durable agents journal each effect, replay it on recovery and wait for approvals.",
        "journal: ['llm_call:research#1', 'tool_call:s1', 'tool_call:s2', 'tool_call:s3', 'llm_call:research#2']",
        "again: same answer True, searches [], model requests 2",
    ],
    "reminder_agent": [
        "suspended: sleeping, the worker drives 0 turns",
        "planned: Done: I will remind you in 7 days.",
        "woke up: Reminder: renew the passport",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_example_runs(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for expected in EXPECTED[name]:
        assert expected in lines, (expected, done.stdout)
    if name == "research_agent":
        assert "searches ran: ['durability', 'replay', 'approvals'], together in" in done.stdout
