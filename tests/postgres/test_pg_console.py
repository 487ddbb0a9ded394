"""The operator console's HTTP API on PostgreSQL: the same scenarios as on memory and SQLite
(tests/server/console_cases.py), the app on its own host over the test's schema."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from cli_support import cli
from console_cases import console_scenario, journal_paging_checks, malformed_token_checks, role_checks
from console_cli_cases import cli_scenario, journal_paging_scenario
from pg_support import HostMaker, schema_url

from effecthost import EffectHostError, open_host

pytestmark = pytest.mark.timeout(90)


async def test_operators_find_understand_and_act_on_turns_and_waits(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    await console_scenario(schema_url(pg_url, pg_schema), host, f"run-{uuid.uuid4().hex[:6]}")


async def test_every_route_checks_the_role(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    await make_host()
    await role_checks(schema_url(pg_url, pg_schema))


async def test_a_malformed_token_costs_a_store_read_and_answers_as_a_forged_one(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    await make_host()
    await malformed_token_checks(schema_url(pg_url, pg_schema))


async def test_sessions_and_effects_page_by_keyset(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    host = await make_host()
    await journal_paging_checks(schema_url(pg_url, pg_schema), host, f"run-{uuid.uuid4().hex[:6]}")


async def test_the_console_verbs_of_the_command_line(
    make_host: HostMaker, pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    host = await make_host()
    await cli_scenario(schema_url(pg_url, pg_schema), host, f"run-{uuid.uuid4().hex[:6]}", tmp_path)


async def test_journal_sessions_page_by_keyset_on_the_command_line(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    await journal_paging_scenario(schema_url(pg_url, pg_schema), host, f"run-{uuid.uuid4().hex[:6]}")


async def test_a_wrong_url_fails_at_once_with_one_coded_message(pg_url: str) -> None:
    refused = pg_url.replace(":5432", ":9") if ":5432" in pg_url else "postgresql://postgres@127.0.0.1:9/test"
    started = time.monotonic()
    result = await cli("journal", "sessions", "--url", refused)
    took = time.monotonic() - started
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "postgres_effect_replay_store: cannot connect to PostgreSQL"
    )
    assert took < 5.0  # the figure (well under 2 s) is reported by hand; this only catches a hang
    with pytest.raises(EffectHostError) as failed:
        await open_host(refused)
    assert "Connection refused" in failed.value.message


async def test_unknown_url_options_are_refused_like_sqlite_ones(pg_url: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    with pytest.raises(EffectHostError) as refused:
        await open_host(f"{pg_url}{sep}sslmod=disable")
    assert refused.value.code == "host_option_invalid" and "sslmod" in refused.value.message
    result = await cli("journal", "sessions", "--url", f"{pg_url}{sep}sslmod=disable", "--json")
    assert json.loads(result.stdout)["code"] == "host_option_invalid"


async def test_migrate_check_prints_one_error(pg_url: str) -> None:
    result = await cli("migrate", "--check", "--url", pg_url)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "internal_error" not in result.output


async def test_conformance_runs_in_a_throwaway_schema_and_drops_it(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    from pg_support import admin

    url = schema_url(pg_url, pg_schema)
    host = await make_host()
    result = await cli("conformance", url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True
    assert await host.browser.list_sessions(limit=10) == []  # nothing written in the given schema
    async with await admin(pg_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'effecthost_kit_%'")
        assert (await cur.fetchone() or [1])[0] == 0
