"""The operator console's HTTP API on memory and SQLite (PostgreSQL: tests/postgres/test_pg_console.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from console_cases import console_scenario, journal_paging_checks, malformed_token_checks, role_checks

from effecthost import open_host

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://console-{uuid.uuid4().hex}"
    return f"sqlite:///{tmp_path / 'console.db'}"


async def test_operators_find_understand_and_act_on_turns_and_waits(url: str) -> None:
    async with await open_host(url) as host:
        await console_scenario(url, host, f"run-{uuid.uuid4().hex[:6]}")


async def test_every_route_checks_the_role(url: str) -> None:
    async with await open_host(url):
        await role_checks(url)


async def test_a_malformed_token_costs_a_store_read_and_answers_as_a_forged_one(url: str) -> None:
    async with await open_host(url):
        await malformed_token_checks(url)


async def test_sessions_and_effects_page_by_keyset(url: str) -> None:
    async with await open_host(url) as host:
        await journal_paging_checks(url, host, f"run-{uuid.uuid4().hex[:6]}")


def test_a_tokens_file_names_operators_and_bad_entries_are_coded(tmp_path: Path) -> None:
    from effecthost import EffectHostError
    from effecthost.server.access import load_tokens

    good = tmp_path / "tokens.json"
    good.write_text('{"rosa": {"role": "resolver", "token": "0123456789abcdef-rosa"}}')
    assert load_tokens(str(good)) == {"rosa": ("resolver", "0123456789abcdef-rosa")}
    for text in (
        '{"rosa": {"role": "root", "token": "0123456789abcdef-rosa"}}',
        '{"rosa": {"role": "viewer", "token": "short"}}',
        '{"admin": {"role": "viewer", "token": "0123456789abcdef-admin"}}',
        '{"rosa": {"role": "viewer"}}',
        "[]",
        "{nope",
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(EffectHostError) as refused:
            load_tokens(str(bad))
        assert refused.value.code == "host_option_invalid", text
