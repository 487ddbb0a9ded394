"""The command line in-process: every command against a SQLite host with a parked turn."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from cli_support import cli, park_turn

from effecthost import DurableEffectHost, ExecutionScope, Resolution
from effecthost._private.stores.sqlite.schema import SCHEMA_VERSION
from effecthost.cli import journal as journal_cli
from effecthost.testing.conformance._support import record_step

pytestmark = pytest.mark.timeout(60)
WIDE = {"COLUMNS": "400"}  # one table row per line, so a cell is never wrapped


async def test_journal_sessions_and_show_report_the_turn(db_url: str, host: DurableEffectHost) -> None:
    turn = await park_turn(host, "s-journal")
    listed = await cli("journal", "sessions", "--url", db_url, "--json")
    assert listed.exit_code == 0, listed.output
    [session] = json.loads(listed.stdout)["sessions"]
    assert (session["session_id"], session["effects"], session["in_progress"]) == (
        "s-journal",
        2,
        1,
    )
    shown = await cli("journal", "show", "s-journal", "--url", db_url, "--json")
    [scope] = json.loads(shown.stdout)["scopes"]
    statuses = {e["kind"]: e["status"] for e in scope["effects"]}
    assert statuses == {"durable_step": "completed", "await_event": "in_progress"}
    table = await cli("journal", "show", "s-journal", "--url", db_url)
    assert "durable_step" in table.stdout and "in_progress" in table.stdout
    turn.task.cancel()


@pytest.mark.parametrize("page", [3, 7])  # a short last page, and a full one then an empty one
async def test_journal_show_lists_every_effect_across_pages(
    db_url: str, host: DurableEffectHost, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """``journal show`` has no limit of its own: it reads a scope page by page until a short page."""
    monkeypatch.setattr(journal_cli, "EFFECTS_PAGE", page)
    keys = [f"step-{i}" for i in range(7)]
    for key in keys:
        await record_step(host, ExecutionScope.turn("s-long", "turn-1"), key)
    shown = await cli("journal", "show", "s-long", "--url", db_url, "--json")
    assert shown.exit_code == 0, shown.output
    [scope] = json.loads(shown.stdout)["scopes"]
    assert [e["replay_key"] for e in scope["effects"]] == keys  # one writer, in order, no repeats


async def test_await_list_peek_resolve_reaches_the_waiter(db_url: str, host: DurableEffectHost) -> None:
    turn = await park_turn(host, "s-await")
    listed = json.loads((await cli("await", "list", "s-await", "--url", db_url, "--json")).stdout)
    [wait] = listed["await_events"]
    assert wait["token"] == turn.key.to_token()
    peek = await cli("await", "peek", wait["token"], "--url", db_url, "--json")
    assert json.loads(peek.stdout) == {"status": "pending", "resolution": None}
    done = await cli("await", "resolve", wait["token"], "--url", db_url, "--ok", '{"approved": true}')
    assert (done.exit_code, done.stdout.strip()) == (0, "accepted")
    assert (await turn.task).resolution == Resolution.ok({"approved": True})  # type: ignore[attr-defined]
    again = await cli("await", "resolve", wait["token"], "--url", db_url, "--err", "late", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["status"] == "already_resolved"


async def test_forged_and_malformed_tokens_exit_1_with_the_code(db_url: str, host: DurableEffectHost) -> None:
    turn = await park_turn(host, "s-forged")
    forged = dataclasses.replace(turn.key, signature="f" * 64).to_token()
    result = await cli("await", "resolve", forged, "--url", db_url, "--ok", "1")
    assert result.exit_code == 1
    assert result.stderr.strip() == "await_event_unknown_or_revoked: await-event key is invalid or revoked"
    malformed = await cli("await", "peek", "not-a-token", "--url", db_url)
    assert malformed.exit_code == 1
    assert malformed.stderr.startswith("await_event_token_malformed: ")
    assert "Traceback" not in malformed.output
    assert not turn.task.done()
    turn.task.cancel()


@pytest.mark.parametrize(
    "options",
    [[], ["--ok", "{nope"], ["--ok", "1", "--err", "x"], ["--resolution", '{"status":"maybe"}']],
)
async def test_resolve_usage_errors_exit_2(db_url: str, options: list[str]) -> None:
    result = await cli("await", "resolve", "ehk1.x", "--url", db_url, *options)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


async def test_cancel_revoke_and_retire(db_url: str, host: DurableEffectHost) -> None:
    turn = await park_turn(host, "s-ops")
    assert (await cli("await", "cancel", "s-ops", "--url", db_url)).exit_code == 0
    assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
    assert (await cli("session", "revoke", "s-ops", "--url", db_url, "--yes")).exit_code == 0
    refused = await cli("await", "resolve", turn.key.to_token(), "--url", db_url, "--ok", "1")
    assert refused.exit_code == 1
    retired = await cli("journal", "retire", "s-ops", "--url", db_url, "--yes", "--json")
    assert json.loads(retired.stdout) == {"session_id": "s-ops", "retired_rows": 2}
    listed = await cli("journal", "sessions", "--url", db_url, "--json")
    assert json.loads(listed.stdout)["sessions"] == []


async def test_destructive_commands_ask_first(db_url: str) -> None:
    declined = await cli("journal", "retire", "s", "--url", db_url)  # no input: not confirmed
    assert declined.exit_code == 1
    assert "aborted: not confirmed: nothing was done" in declined.output


async def test_migrate_and_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    missing = await cli("migrate", "--check", "--url", url)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("schema_migration_pending: ")
    assert (await cli("migrate", "--url", url)).exit_code == 0
    checked = await cli("migrate", "--check", "--url", url)
    assert (checked.exit_code, checked.stdout.strip()) == (0, f"schema is current (version {SCHEMA_VERSION})")
    memory = await cli("migrate", "--url", "memory://m")
    assert "nothing to migrate" in memory.stdout


async def test_bad_url_exits_1_with_code() -> None:
    result = await cli("journal", "sessions", "--url", "ftp://x")
    assert (result.exit_code, result.stderr.split(":")[0]) == (1, "host_url_unsupported")


async def test_url_comes_from_the_environment(db_url: str, host: DurableEffectHost) -> None:
    turn = await park_turn(host, "s-env")
    result = await cli("journal", "sessions", "--json", env={"EFFECTHOST_URL": db_url})
    assert [s["session_id"] for s in json.loads(result.stdout)["sessions"]] == ["s-env"]
    turn.task.cancel()


async def test_conformance_runs_the_kit_and_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    result = await cli("conformance", url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True
    names = {r["name"] for r in report["results"]}
    assert {"effect_host_await_events", "journal_store_lists_effects_in_pages"} <= names
    # it ran beside the given file, not in it, and left nothing behind
    assert os.listdir(tmp_path) == []


async def test_conformance_leaves_the_users_database_as_it_was(db_url: str, host: DurableEffectHost) -> None:
    await record_step(host, ExecutionScope.turn("mine", "t"), "step")
    before = [s.session_id for s in await host.browser.list_sessions(limit=1000)]
    result = await cli("conformance", db_url, "--json")
    assert result.exit_code == 0, result.output
    assert [s.session_id for s in await host.browser.list_sessions(limit=1000)] == before == ["mine"]
    assert await host.query_turns() == []
    folder = os.path.dirname(db_url[len("sqlite:///") :])
    assert not [name for name in os.listdir(folder) if "conformance" in name]


async def test_tables_show_hostile_ids_as_escaped_text(db_url: str, host: DurableEffectHost) -> None:
    """A session id is caller-controlled: rich markup in it is not rendered and an ESC sequence
    or a newline in it cannot drive the operator's terminal or forge a table row."""
    hostile = "[bold red]admin[/bold red]\x1b[2J\nforged-row"
    turn = await park_turn(host, hostile)
    for args in (("journal", "sessions"), ("journal", "show", hostile), ("await", "list", hostile)):
        shown = await cli(*args, "--url", db_url, env=WIDE)
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.stdout, args
        assert "\nforged-row" not in shown.stdout, args
    listed = await cli("journal", "sessions", "--url", db_url, env=WIDE)
    assert "[bold red]admin[/bold red]\\x1b[2J\\nforged-row" in listed.stdout  # not as markup
    turn.task.cancel()
