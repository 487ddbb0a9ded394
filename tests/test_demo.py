"""``make demo`` end to end: a support agent's turn; a real child process is killed mid-tool-call, a
worker takes the turn over, it suspends on the refund's approval, a webhook approves it, and the
re-drives replay what was recorded: no model request is asked twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_kills_a_child_mid_turn_and_the_redrives_replay_what_was_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "effecthost.demo", "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "child: tool_call call_search (search_help_center) is executing -> SIGKILL" in out
    assert "the turn is waiting on 'approve-issue_refund' and suspended: the worker drives 0 turns now" in out
    assert 'question: issue_refund({"amount_eur": 30, "order_id": "A-1042", "reason": "delivered 6 days late"})' in out
    assert "approved it: accepted" in out
    table = out.split("worker 2nd", 1)[1].split("answer:", 1)[0]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line.strip()}
    assert rows == {
        "support#1": ["llm_call", "executed", "replayed", "replayed"],
        "call_lookup": ["tool_call", "executed", "replayed", "replayed"],
        "call_search": ["tool_call", "killed", "executed", "replayed"],
        "support#2": ["llm_call", "-", "executed", "replayed"],
        "approval:call_refund": ["await_event", "-", "suspended", "executed"],
        "call_refund": ["tool_call", "-", "-", "executed"],
        "support#3": ["llm_call", "-", "-", "executed"],
    }
    assert "answer: Your order A-1042 arrived 6 days late, so I refunded 30 EUR (reference RF-" in out
    assert "this process asked the model 2 times" in out
    assert "3 model requests were answered from the journal instead" in out
    assert "tools run by this process: {'issue_refund': 1, 'search_help_center': 1}" in out
    assert "the last drive: 1 model request asked, 2 replayed" in out
    assert "streamed to this process: 5 model texts, 3 marked replayed" in out
    assert "host.get_turn: completed, driven 3 times, stop final_answer" in out
    assert ":turn-1:0:0:await_event:approval:call_refund:deadline" in out
    assert "host.run_turn once more: the recorded result, 0 new calls" in out


def test_demo_names_a_bad_model_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "effecthost.demo", "--url", f"sqlite:///{tmp_path}/d.db", "--model", "gpt"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "invalid_argument: --model is scripted, openai:NAME or anthropic:NAME, not 'gpt'" in done.stderr
