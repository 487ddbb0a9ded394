"""The console verbs on SQLite, locally and through a running service; the command line's
conventions (-h, --json errors, usage errors as code: message, read commands create nothing)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cli_support import cli
from console_cli_cases import cli_scenario, journal_paging_scenario

from effecthost import DurableEffectHost

pytestmark = pytest.mark.timeout(120)


async def test_turns_and_waits_verbs_locally_and_through_the_service(
    db_url: str, host: DurableEffectHost, tmp_path: Path
) -> None:
    await cli_scenario(db_url, host, f"run-{uuid.uuid4().hex[:6]}", tmp_path)


async def test_journal_sessions_page_by_keyset(db_url: str, host: DurableEffectHost) -> None:
    await journal_paging_scenario(db_url, host, f"run-{uuid.uuid4().hex[:6]}")


async def test_help_short_option_and_usage_errors_as_code_and_message() -> None:
    helped = await cli("turns", "list", "-h")
    assert helped.exit_code == 0 and "--status" in helped.stdout
    wrong = await cli("turns", "lst")
    assert wrong.exit_code == 2
    assert wrong.output.startswith("usage_error: No such command 'lst'")
    as_json = await cli("turns", "list", "--limit", "many", "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["code"] == "usage_error"


async def test_read_commands_never_create_a_database(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    for args in (
        ["turns", "list"],
        ["waits", "list"],
        ["journal", "sessions"],
        ["await", "list", "s"],
        ["turns", "show", "s", "t"],
    ):
        result = await cli(*args, "--url", f"sqlite:///{path}", "--json")
        assert result.exit_code == 1, (args, result.output)
        assert json.loads(result.stdout)["code"] == "host_url_invalid"
        assert not path.exists()


async def test_an_unreachable_service_is_one_coded_error() -> None:
    result = await cli("turns", "list", "--server", "http://127.0.0.1:9", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "server_unreachable"
