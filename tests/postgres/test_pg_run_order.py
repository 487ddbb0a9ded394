"""Migration 4 (run order): effects carry ``seq`` in their scope, listings sort by it, and a schema
left at version 3 has its old rows numbered by (creation time, replay key) on open."""

from __future__ import annotations

import pytest
from pg_support import HostMaker, admin, step_envelope

from effecthost import ExecutionScope, LocalExecutor
from effecthost._private.stores.postgres import schema

SESSION = "order-session"
SCOPE = ExecutionScope.turn(SESSION, "t")
RUN_ORDER_VERSION = 4


async def test_effects_are_listed_in_run_order_not_by_key(make_host: HostMaker) -> None:
    host = await make_host()
    keys = ["z", "m", "a", "q"]
    for key in keys:
        await host.scoped(SCOPE).controller.execute_effect(
            step_envelope(SESSION, "t", key, 1), LocalExecutor.durable_step(lambda v: v)
        )
    listed = await host.browser.list_effects(SCOPE.journal_key())
    assert [r.seq for r in listed] == [1, 2, 3, 4]
    assert [r.effect_id for r in listed] == keys
    page = await host.browser.list_effects(SCOPE.journal_key(), limit=2, offset=1)
    assert [r.effect_id for r in page] == ["m", "a"]


async def test_a_version_3_schema_gets_run_order_and_resolved_by(
    make_host: HostMaker, pg_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [v for v, _, _ in schema.MIGRATIONS][RUN_ORDER_VERSION - 1] == RUN_ORDER_VERSION
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[: RUN_ORDER_VERSION - 1])
        patched.setattr(schema, "LATEST_VERSION", RUN_ORDER_VERSION - 1)
        await (await make_host()).aclose()  # the schema as an effecthost at version 3 leaves it
    async with await admin(pg_url) as conn:
        # rows as version 3 wrote them: b and c in one millisecond, a later
        for key, created in (("b", 5), ("c", 5), ("a", 9)):
            envelope = step_envelope(SESSION, "t", key, 1)
            await conn.execute(
                f'INSERT INTO "{pg_schema}".runtime_effect_replay (scope_key, replay_key, session_id,'
                " envelope_hash, envelope_json, status, outcome_json, created_at_ms, updated_at_ms,"
                " effect_kind, effect_id) VALUES (%s, %s, %s, %s, %s, 'completed', %s, %s, %s,"
                " 'durable_step', %s)",
                (
                    SCOPE.journal_key(), key, SESSION, envelope.stable_hash(),
                    envelope.canonical_json(), '{"type":"durable_step","value":1}', created,
                    created, key,
                ),
            )  # fmt: skip
    new = await make_host()
    listed = await new.browser.list_effects(SCOPE.journal_key())
    assert [(r.seq, r.effect_id) for r in listed] == [(1, "b"), (2, "c"), (3, "a")]
    await new.scoped(SCOPE).controller.execute_effect(
        step_envelope(SESSION, "t", "d", 1), LocalExecutor.durable_step(lambda v: v)
    )
    listed = await new.browser.list_effects(SCOPE.journal_key())
    assert [(r.seq, r.effect_id) for r in listed][-1] == (4, "d")
    async with await admin(pg_url) as conn:
        cur = await conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'await_event_waits'",
            (pg_schema,),
        )
        assert "resolved_by" in {str(r[0]) for r in await cur.fetchall()}
        cur = await conn.execute(f'SELECT max(version) FROM "{pg_schema}".schema_versions')
        assert (await cur.fetchone() or [0])[0] == schema.LATEST_VERSION
