"""Opening: migrations in the configured schema only, safe concurrent first opens, lazy imports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest
from pg_support import HostMaker, admin, schema_url

from effecthost import EffectHostError, ErrorCode, open_host
from effecthost._private.stores.postgres.config import parse_options
from effecthost._private.stores.postgres.schema import LATEST_VERSION

OWN_TABLES = {
    "schema_versions",
    "runtime_effect_replay",
    "await_event_meta",
    "await_event_waits",
    "await_event_revoked_sessions",
    "turn_records",
}


async def test_open_creates_versioned_tables_only_in_its_schema(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    async with await admin(pg_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM information_schema.tables")
        before = (await cur.fetchone() or [0])[0]
    await make_host()
    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (pg_schema,)
        )
        assert {r[0] for r in await cur.fetchall()} == OWN_TABLES
        cur = await conn.execute("SELECT count(*) FROM information_schema.tables")
        assert (await cur.fetchone() or [0])[0] == before + len(OWN_TABLES)
        cur = await conn.execute(f'SELECT version FROM "{pg_schema}".schema_versions')
        assert [r[0] for r in await cur.fetchall()] == list(range(1, LATEST_VERSION + 1))
        cur = await conn.execute(f'SELECT length(signing_secret) FROM "{pg_schema}".await_event_meta')
        assert [r[0] for r in await cur.fetchall()] == [32]


async def test_reopen_keeps_version_and_secret(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    first = await make_host()
    second = await make_host()
    assert await first.await_coordinator.secret() == await second.await_coordinator.secret()
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT count(*) FROM "{pg_schema}".schema_versions')
        assert (await cur.fetchone() or [0])[0] == LATEST_VERSION


async def test_newer_schema_is_refused(make_host: HostMaker, pg_url: str, pg_schema: str) -> None:
    await make_host()
    async with await admin(pg_url) as conn:
        await conn.execute(
            f"INSERT INTO \"{pg_schema}\".schema_versions (version, name) VALUES (%s, 'future')",
            (LATEST_VERSION + 1,),
        )
    with pytest.raises(EffectHostError) as info:
        await make_host()
    assert info.value.code == ErrorCode.POSTGRES_SCHEMA_TOO_NEW


_OPENER = textwrap.dedent(
    """
    import asyncio, json, sys
    from effecthost import ExecutionScope, WaitIdentity, open_host

    async def main():
        host = await open_host(sys.argv[1])
        key = await host.await_event_key(ExecutionScope.turn("s", "t"), WaitIdentity.custom("k"))
        print(json.dumps({"token": key.to_token()}))
        await host.aclose()

    asyncio.run(main())
    """
)


async def test_concurrent_first_opens_by_many_processes_do_not_race(pg_url: str, pg_schema: str) -> None:
    """Six processes open a fresh schema at once: all succeed, one migration, one secret."""
    url = schema_url(pg_url, pg_schema)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPENER, url, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err.decode() for _, err in outputs]
    tokens = {json.loads(out)["token"] for out, _ in outputs}
    assert len(tokens) == 1  # every process minted the same key: one persisted secret
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT count(*) FROM "{pg_schema}".schema_versions')
        assert (await cur.fetchone() or [0])[0] == LATEST_VERSION
        cur = await conn.execute(f'SELECT count(*) FROM "{pg_schema}".await_event_meta')
        assert (await cur.fetchone() or [0])[0] == 1


def test_psycopg_is_imported_only_for_postgres_urls() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        import effecthost
        async def main():
            host = await effecthost.open_host("memory://lazy")
            await host.aclose()
        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith(("psycopg", "effecthost._private.stores.postgres"))))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_url_and_keyword_options_are_parsed_and_stripped() -> None:
    opts = parse_options(
        "postgresql://u@h:5432/db?schema=tenant_a&pool_max_size=4&sslmode=disable", {"pool_min_size": 2}
    )
    assert opts.schema == "tenant_a"
    assert (opts.pool_min_size, opts.pool_max_size) == (2, 4)
    assert opts.conninfo == "postgresql://u@h:5432/db?sslmode=disable"
    assert opts.channel == "effecthost_tenant_a"
    assert parse_options("postgresql://h/db", {"schema": "x"}).schema == "x"  # keyword wins


@pytest.mark.parametrize(
    "url, options",
    [
        ("postgresql://h/db?schema=Bad-Name", {}),
        ("postgresql://h/db", {"schema": "drop table; --"}),
        ("postgresql://h/db?pool_max_size=0", {}),
        ("postgresql://h/db", {"pool_min_size": 5, "pool_max_size": 2}),
        ("postgresql://h/db", {"no_such_option": 1}),
    ],
)
def test_bad_options_are_coded(url: str, options: dict[str, object]) -> None:
    with pytest.raises(EffectHostError) as info:
        parse_options(url, options)
    assert info.value.code == ErrorCode.HOST_OPTION_INVALID


async def test_unreachable_server_is_a_coded_error() -> None:
    with pytest.raises(EffectHostError) as info:
        await open_host("postgresql://postgres@127.0.0.1:1/test", connect_timeout_s=2)
    assert info.value.code == ErrorCode.POSTGRES_EFFECT_REPLAY_STORE
