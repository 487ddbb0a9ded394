"""The hot statements sent through libpq directly (``stores/postgres/wire.py``), and the watch that
keeps the parked connection's socket registered between them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
from pg_support import HostMaker, admin, schema_url, step_envelope, terminate, until

from effecthost import ExecutionScope, LocalExecutor, open_host
from effecthost._private.stores.postgres.wire import Statement, Watch, execute
from effecthost.interceptors import EffectCounter

SCOPE = ExecutionScope.turn("wire-session", "wire-turn")


def db_of(host: Any) -> Any:
    return host.journal._db


async def step(host: Any, key: str, value: Any, timeout_s: float = 10) -> Any:
    """One journaled effect; a hang (a wait nobody wakes) fails the test instead of blocking it."""
    controller = host.scoped(SCOPE).controller
    out = await asyncio.wait_for(
        controller.execute_effect(
            step_envelope("wire-session", "wire-turn", key, value), LocalExecutor.durable_step(lambda v: v)
        ),
        timeout_s,
    )
    return out.into_durable_step()


async def prepared_names(host: Any) -> set[str]:
    async with db_of(host).connection("test") as conn:
        cur = await conn.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in await cur.fetchall()}


async def test_a_fresh_connection_prepares_under_the_watch_and_keeps_one_socket_registration(
    make_host: HostMaker,
) -> None:
    host = await make_host(pool_max_size=1)
    db = db_of(host)
    assert db._watch is None  # psycopg-only traffic (opening the host) starts no watch
    # The first hot statement starts the watch on a connection that has prepared nothing yet.
    for i in range(5):
        assert await step(host, f"k{i}", i) == i
    assert db._watch is not None and db._watch.active and db._watch.conn is db._parked
    assert {"effecthost_claim_insert", "effecthost_finalize"} <= await prepared_names(host)


async def test_wire_and_psycopg_statements_alternate_on_one_connection(make_host: HostMaker) -> None:
    # One connection: every psycopg use (reads, a claim on an existing row) must take the socket
    # from the watch and every wire statement after it must get it back.
    host = await make_host(pool_max_size=1)
    for i in range(10):
        assert await step(host, f"k{i}", i) == i
        assert await step(host, f"k{i}", i) == i  # a replay: read on the psycopg side
        effects = await asyncio.wait_for(host.browser.list_effects(SCOPE.journal_key(), 100, 0), 10)
        assert len(effects) == i + 1


async def test_statements_deallocated_behind_its_back_are_prepared_again(make_host: HostMaker) -> None:
    host = await make_host(pool_max_size=1)
    assert await step(host, "before", 1) == 1
    async with db_of(host).connection("test") as conn:
        await conn.execute("DEALLOCATE ALL")  # what a pooler's reset or DISCARD ALL does
    assert "effecthost_finalize" not in await prepared_names(host)
    assert await step(host, "after", 2) == 2
    assert {"effecthost_claim_insert", "effecthost_finalize"} <= await prepared_names(host)


async def test_a_failed_statement_raises_the_psycopg_class_of_its_sqlstate(pg_url: str) -> None:
    async with await admin(pg_url) as conn:
        divide = Statement("test_divide", b"SELECT 10 / %s::int")
        with pytest.raises(psycopg.errors.DivisionByZero) as raised:
            await execute(conn, divide, [0])
        assert raised.value.diag.sqlstate == "22012"
        assert raised.value.diag.message_primary == "division by zero"
        result = await execute(conn, divide, [5])  # the connection is idle and usable again
        assert result.get_value(0, 0) == b"2"
        with pytest.raises(psycopg.errors.UndefinedTable):
            await execute(conn, Statement("test_missing", b"SELECT * FROM no_such_table_here"), [])


async def test_a_parameter_that_is_not_unicode_is_a_data_error_and_sends_nothing(pg_url: str) -> None:
    async with await admin(pg_url) as conn:
        echo = Statement("test_echo", b"SELECT %s::text")
        with pytest.raises(psycopg.DataError):
            await execute(conn, echo, ["\ud800"])
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert (await execute(conn, echo, ["é"])).get_value(0, 0) == "é".encode()


async def test_a_killed_idle_connection_stops_its_watch_and_is_replaced(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host()
    db = db_of(host)
    assert await step(host, "before", 1) == 1
    watch = db._watch
    assert watch is not None and watch.active
    assert await terminate(pg_url, f"%{pg_schema}%") >= 1

    async def stopped() -> bool:
        return not watch.active

    # The FATAL message makes the idle socket readable: the watch unregisters it rather than be
    # called on every loop turn (a level-triggered selector would spin the loop).
    await asyncio.wait_for(until(stopped), 5)
    assert await step(host, "after", 2) == 2
    assert db._parked is not watch.conn


async def test_a_finalize_cancelled_mid_statement_leaves_no_half_used_connection(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    host = await make_host(pool_max_size=2)
    db = db_of(host)
    assert await step(host, "warm", 0) == 0
    executed, locked = asyncio.Event(), asyncio.Event()

    async def slow(value: Any) -> Any:
        executed.set()
        await locked.wait()  # the finalize comes after the table is locked
        return value

    controller = host.scoped(SCOPE).controller
    locker = await admin(pg_url)
    try:
        task = asyncio.ensure_future(
            controller.execute_effect(
                step_envelope("wire-session", "wire-turn", "blocked", 7), LocalExecutor.durable_step(slow)
            )
        )
        await executed.wait()
        await locker.execute("BEGIN")
        await locker.execute(f'LOCK TABLE "{pg_schema}".runtime_effect_replay IN EXCLUSIVE MODE')
        locked.set()

        async def finalize_waits_on_the_lock() -> bool:
            async with await admin(pg_url) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s "
                    "AND wait_event_type = 'Lock'",
                    (f"%{pg_schema}%",),
                )
                row = await cur.fetchone()
                return bool(row and row[0])

        await asyncio.wait_for(until(finalize_waits_on_the_lock), 10)
        stuck = db._parked if db._parked is not None else None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await locker.execute("ROLLBACK")
        await locker.close()
    # The connection with the statement still in flight went back to the pool, which discarded
    # it; nothing parked is mid-statement and the host carries on.
    parked = db._parked
    assert parked is None or parked.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert stuck is None  # it was borrowed, not parked, while the statement ran
    for i in range(3):
        assert await step(host, f"after{i}", i) == i


async def test_text_is_utf8_on_the_wire_whatever_encoding_the_url_asks_for(
    make_host: HostMaker, pg_url: str, pg_schema: str
) -> None:
    # The hot statements encode text as UTF-8 themselves, so the host's connections must speak
    # UTF-8 even when the URL asks libpq for another client encoding.
    host = await make_host(pool_max_size=1)
    value = {"text": "日本語 é ☃"}
    assert await step(host, "unicode", value) == value
    counted = EffectCounter()
    latin1 = await open_host(schema_url(pg_url, pg_schema) + "&client_encoding=LATIN1", interceptors=[counted])
    try:
        assert await step(latin1, "unicode", value) == value
        assert counted.executed == 0  # replayed: the recorded text matched the envelope
        assert await step(latin1, "unicode-2", value) == value  # written through the LATIN1 URL
        row = await latin1.browser.get_row(SCOPE.journal_key(), "unicode-2")
        assert row is not None and "日本語 é ☃" in (row.outcome_json or "")
    finally:
        await latin1.aclose()


async def test_stopping_a_watch_wakes_the_statement_waiting_on_it(pg_url: str) -> None:
    # The host closing while a statement waits: the statement must not wait on a dead watch.
    async with await admin(pg_url) as conn:
        watch = Watch(conn)
        waiting = asyncio.ensure_future(watch.readable())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # an idle socket: nothing to read
        watch.stop()
        await asyncio.wait_for(waiting, 1)
        assert not watch.active


_PURE_PYTHON_RUN = """
import asyncio, sys
import psycopg
assert psycopg.pq.__impl__ == "python", psycopg.pq.__impl__
from effecthost import ExecutionScope, LocalExecutor, open_host
sys.path.insert(0, sys.argv[2])
from pg_support import step_envelope

async def main():
    host = await open_host(sys.argv[1], pool_max_size=1)
    controller = host.scoped(ExecutionScope.turn("py", "t")).controller
    for i in range(5):
        out = await controller.execute_effect(
            step_envelope("py", "t", f"k{i}", i), LocalExecutor.durable_step(lambda v: v)
        )
        assert out.into_durable_step() == i
    await host.aclose()
    print("ok")

asyncio.run(main())
"""


async def test_the_hot_statements_work_on_psycopgs_pure_python_libpq_wrapper(
    pg_url: str, pg_schema: str
) -> None:
    # Where no binary wheel exists psycopg wraps libpq with ctypes; the hot path must work there.
    env = {**os.environ, "PSYCOPG_IMPL": "python"}
    here = str(Path(__file__).parent)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PURE_PYTHON_RUN, schema_url(pg_url, pg_schema), here,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip() == "ok"
