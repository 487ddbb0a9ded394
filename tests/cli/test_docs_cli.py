"""docs/cli.md carries every command's --help; this test keeps it in step with the code.

Regenerate with ``EFFECTHOST_UPDATE_DOCS=1 .venv/bin/pytest tests/cli/test_docs_cli.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import typer.main
import typer.rich_utils
from typer.testing import CliRunner

from effecthost.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
BEGIN, END = "<!-- BEGIN GENERATED HELP -->", "<!-- END GENERATED HELP -->"
COMMANDS = [
    [],
    ["serve"],
    ["journal", "sessions"],
    ["journal", "show"],
    ["journal", "retire"],
    ["await", "list"],
    ["await", "peek"],
    ["await", "resolve"],
    ["await", "cancel"],
    ["session", "revoke"],
    ["migrate"],
    ["conformance"],
    ["demo"],
    ["worker"],
    ["turns", "list"],
    ["turns", "show"],
    ["turns", "start"],
    ["turns", "result"],
    ["turns", "cancel"],
    ["turns", "resume"],
    ["turns", "fork"],
    ["waits", "list"],
    ["waits", "resolve"],
    ["blobs", "sweep"],
]


def _leaf_commands() -> set[tuple[str, ...]]:
    group = typer.main.get_group(app)
    out: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        if sub:
            out |= {(name, child) for child in sub}
        else:
            out.add((name,))
    return out


def render(monkeypatch: pytest.MonkeyPatch) -> str:
    # fixed width and no colour: the text must not depend on the terminal running the test
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 100)
    monkeypatch.setattr(typer.rich_utils, "COLOR_SYSTEM", None)
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", False)
    runner = CliRunner()
    blocks = []
    for words in COMMANDS:
        result = runner.invoke(app, [*words, "--help"], prog_name="effecthost", env={"COLUMNS": "100"})
        assert result.exit_code == 0, result.output
        body = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
        title = " ".join(["effecthost", *words])
        blocks.append(f"### `{title}`\n\n```text\n{body}\n```\n")
    return "\n".join(blocks)


def test_every_command_is_documented() -> None:
    assert {tuple(c) for c in COMMANDS if c} == _leaf_commands()


def test_cli_doc_holds_the_current_help(monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{render(monkeypatch)}{END}{tail}"
    if os.environ.get("EFFECTHOST_UPDATE_DOCS"):
        DOC.write_text(fresh)
        return
    assert text == fresh, "docs/cli.md is stale: rerun with EFFECTHOST_UPDATE_DOCS=1"
