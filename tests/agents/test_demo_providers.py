"""``effecthost demo --model openai:NAME``: the demo's support agent through the official OpenAI SDK,
against a local provider on 127.0.0.1 that answers as the scripted model does. Across the crash, the
recovery and the approval the provider is asked exactly three times: no model request twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from effecthost.agents import ModelRequest, ModelResponse
from effecthost.demo import support_script

from .wire_servers import Provider, serve_provider


def as_scripted(body: dict[str, Any]) -> ModelResponse:
    messages = [{**m, "is_error": False} if m["role"] == "tool" else m for m in body["messages"]]
    return support_script(ModelRequest(body["model"], messages))


def test_the_demo_against_an_openai_compatible_server(tmp_path: Path) -> None:
    provider = Provider(as_scripted)
    with serve_provider(provider) as url:
        env = {**os.environ, "OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-local"}
        done = subprocess.run(
            [sys.executable, "-m", "effecthost.demo", "--url", f"sqlite:///{tmp_path}/demo.db",
             "--model", "openai:gpt-test"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a support agent (openai:gpt-test)" in done.stdout
    assert "child: tool_call call_search (search_help_center) is executing -> SIGKILL" in done.stdout
    assert "answer: Your order A-1042 arrived 6 days late, so I refunded 30 EUR" in done.stdout
    assert "3 model requests were answered from the journal instead" in done.stdout
    assert provider.count("openai") == 3
    assert all(r["body"]["stream"] for r in provider.requests)  # the demo streams its deltas
