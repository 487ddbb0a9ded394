"""Migration 3 (turn records): a schema left at version 2 by an older effecthost is brought to the
latest version on open, keeps its journal rows and secret, and gains ``turn_records``."""

from __future__ import annotations

import pytest
from pg_support import HostMaker, admin, step_envelope

from effecthost import ExecutionScope, LocalExecutor
from effecthost._private.lifecycle import transitions
from effecthost._private.lifecycle.model import COLUMNS
from effecthost._private.stores.postgres import schema

SCOPE = ExecutionScope.turn("migrate-session", "migrate-turn")
TURNS_VERSION = 3


async def _tables(pg_url: str, pg_schema: str) -> set[str]:
    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (pg_schema,)
        )
        return {str(r[0]) for r in await cur.fetchall()}


async def test_a_version_2_schema_is_migrated_on_open_and_keeps_its_journal(
    make_host: HostMaker, pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.LATEST_VERSION >= TURNS_VERSION
    assert [v for v, _, _ in schema.MIGRATIONS][TURNS_VERSION - 1] == TURNS_VERSION
    # The schema exactly as an effecthost that knew migrations 1 and 2 leaves it, journal included.
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[: TURNS_VERSION - 1])
        patched.setattr(schema, "LATEST_VERSION", TURNS_VERSION - 1)
        old = await make_host()
        old_secret = await old.await_coordinator.secret()
        await old.aclose()
    async with await admin(pg_url) as conn:
        # journal rows as an effecthost at version 2 wrote them (its columns, no later ones)
        for i in range(3):
            envelope = step_envelope("migrate-session", "migrate-turn", f"step-{i}", i)
            await conn.execute(
                f'INSERT INTO "{pg_schema}".runtime_effect_replay (scope_key, replay_key, session_id,'
                " envelope_hash, envelope_json, status, outcome_json, created_at_ms, updated_at_ms,"
                " effect_kind, effect_id) VALUES (%s, %s, %s, %s, %s, 'completed', %s, %s, %s,"
                " 'durable_step', %s)",
                (
                    SCOPE.journal_key(), f"step-{i}", "migrate-session", envelope.stable_hash(),
                    envelope.canonical_json(), f'{{"type":"durable_step","value":{{"n":{i}}}}}',
                    i, i, f"step-{i}",
                ),
            )  # fmt: skip
    assert "turn_records" not in await _tables(pg_url, pg_schema)
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT max(version) FROM "{pg_schema}".schema_versions')
        assert (await cur.fetchone() or [0])[0] == TURNS_VERSION - 1
        cur = await conn.execute(f'SELECT count(*) FROM "{pg_schema}".runtime_effect_replay')
        assert (await cur.fetchone() or [0])[0] == 3

    new = await make_host()

    assert "turn_records" in await _tables(pg_url, pg_schema)
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT version, name FROM "{pg_schema}".schema_versions ORDER BY 1')
        versions = await cur.fetchall()
        cur = await conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'turn_records' ORDER BY ordinal_position",
            (pg_schema,),
        )
        columns = await cur.fetchall()
        cur = await conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)",
            (f'"{pg_schema}".turn_records',),
        )
        primary_key = [str(r[0]) for r in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'turn_records'",
            (pg_schema,),
        )
        indexes = {str(r[0]) for r in await cur.fetchall()}
    assert [v for v, _ in versions] == list(range(1, schema.LATEST_VERSION + 1))
    assert dict(versions)[TURNS_VERSION] == "turn records"
    assert tuple(c[0] for c in columns) == COLUMNS
    types = {name: data_type for name, data_type, _ in columns}
    assert {types[c] for c in COLUMNS if c.endswith("_ms") or c in ("attempts", "resumes")} == {"bigint"}
    assert types["cancel_requested"] in ("boolean", "smallint")
    nullable = {name for name, _, is_nullable in columns if is_nullable == "YES"}
    assert nullable == {"result_json", "error_json", "waiting_json", "wake_at_ms"}
    assert primary_key == ["session_id", "turn_id"]
    assert {
        "turn_records_order_idx",
        "turn_records_status_idx",
        "turn_records_claim_idx",
        "turn_records_wake_idx",
        "turn_records_name_wake_idx",
    } <= indexes

    # the journal and the signing secret came through untouched, and the turn store works
    assert await new.await_coordinator.secret() == old_secret
    new.start_replay()
    for i in range(3):
        out = await new.scoped(SCOPE).controller.execute_effect(
            step_envelope("migrate-session", "migrate-turn", f"step-{i}", i), LocalExecutor.unavailable()
        )
        assert out.into_durable_step() == {"n": i}
    turns = new.substrate.turns
    assert turns is not None
    record = await turns.insert(transitions.new_turn("migrate-session", "t1", "fn", "{}", 1_000))
    assert await turns.get("migrate-session", "t1") == record

    # reopening applies nothing again
    await make_host()
    async with await admin(pg_url) as conn:
        cur = await conn.execute(f'SELECT count(*) FROM "{pg_schema}".schema_versions')
        assert (await cur.fetchone() or [0])[0] == schema.LATEST_VERSION
