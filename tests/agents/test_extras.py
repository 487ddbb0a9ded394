"""Without its extras, ``effecthost.agents`` still imports; what needs a missing package raises
``extra_not_installed`` naming the extra (a real interpreter without the packages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

PROGRAM = """
from effecthost import EffectHostError
from effecthost.agents import Agent, AnthropicModel, OpenAIModel, ScriptedModel, reply

def code(make):
    try:
        make()
    except EffectHostError as err:
        return f"{err.code}: {err.message}"
    return "no error"

def search(query: str) -> str:
    return query

print(code(lambda: Agent("a", ScriptedModel([reply("hi")]), tools=[search])))
print(code(lambda: OpenAIModel("gpt-4o-mini")))
print(code(lambda: AnthropicModel("claude")))
print(Agent("a", ScriptedModel([reply("hi")])))
"""


def test_missing_extras_are_named(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", PROGRAM],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "extra_not_installed: an agent tool needs pydantic: pip install 'effecthost[agents]'",
        "extra_not_installed: OpenAIModel needs openai: pip install 'effecthost[openai]'",
        "extra_not_installed: AnthropicModel needs anthropic: pip install 'effecthost[anthropic]'",
        "<Agent a model=scripted:scripted tools=[]>",
    ]
