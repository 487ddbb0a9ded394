"""The console verbs of the command line, against a database URL and against a running service
(``--server``): run on SQLite (tests/cli/test_console_cli.py) and PostgreSQL
(tests/postgres/test_pg_console.py). A Worker on the test's host drives the turns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_support import cli
from console_cases import OPS, OPS_SECRET, TOKENS, TURNS, VIEWER_SECRET, until
from server_support import live_server, make_app

from effecthost import DurableEffectHost, Worker


async def _json(*args: str, input_text: str | None = None, code: int = 0) -> Any:
    result = (
        await cli(*args, "--json", env=None)
        if input_text is None
        else await _cli_input(input_text, *args, "--json")
    )
    assert result.exit_code == code, (args, result.output)
    return json.loads(result.stdout)


async def _cli_input(text: str, *args: str) -> Any:
    import asyncio

    from typer.testing import CliRunner

    from effecthost.cli import app

    return await asyncio.to_thread(CliRunner().invoke, app, list(args), input=text, catch_exceptions=False)


async def _status(target: list[str], session: str, turn: str) -> str:
    detail = await _json("turns", "show", session, turn, *target)
    status: str = detail["turn"]["status"]
    return status


async def cli_scenario(url: str, host: DurableEffectHost, run: str, tmp: Path) -> None:
    async with Worker(host, TURNS, suspend_after_s=0.05, poll_interval_s=0.05):
        local = ["--url", url]
        async with live_server(make_app(url, tokens=TOKENS)) as base:
            remote = ["--server", base, "--token", OPS_SECRET]
            for target, tag in ((local, "l"), (remote, "r")):
                session = f"{run}-{tag}"
                started = await _json(
                    "turns", "start", "console-approval", session, "t1", "--input", '{"amount": 3}', *target
                )
                assert started["created"] is True  # a worker may have claimed it already
                assert started["turn"]["status"] in ("pending", "running", "waiting")

                async def waiting(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t1") == "waiting"

                await until(waiting)
                inbox = await _json("waits", "list", "--session", session, *target)
                [wait] = inbox["waits"]
                assert wait["question"] == {"tool": "refund", "args": {"amount": 3}}
                listed = await _json("turns", "list", "--status", "waiting", "--search", session, *target)
                assert [t["turn_id"] for t in listed["turns"]] == ["t1"]
                # --ok from a file
                payload = tmp / f"ok-{tag}.json"
                payload.write_text('{"approved": true}')
                resolved = await _json("waits", "resolve", wait["token"], "--ok", f"@{payload}", *target)
                assert resolved == {"status": "accepted"}

                async def completed(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t1") == "completed"

                await until(completed)
                awaited = await cli("turns", "result", session, "t1", "--timeout", "10", *target, env=None)
                assert awaited.exit_code == 0, awaited.output
                assert json.loads(awaited.stdout)["payload"] == {"approved": True}
                detail = await _json("turns", "show", session, "t1", *target)
                assert detail["effects"][-1]["resolved_by"] == ("cli" if tag == "l" else "otto")
                assert [e["seq"] for e in detail["effects"]] == [1, 2, 3]
                assert [e["executed_in_drive"] for e in detail["effects"]][:2] == [1, 1]
                # the table says it too: the plan ran in drive 1, replayed by the later drives
                shown = await cli("turns", "show", session, "t1", *target, env=None)
                plan_row = next(line for line in shown.stdout.splitlines() if "plan#1" in line)
                assert " d1 ↻2" in plan_row, shown.stdout

                # a second turn: rejected with --ok - (stdin) for another, cancel, fork, resume
                await _json(
                    "turns", "start", "console-approval", session, "t2", "--input", '{"amount": 4}', *target
                )

                async def second_waits(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t2") == "waiting"

                await until(second_waits)
                not_yet = await cli("turns", "result", session, "t2", "--timeout", "0.1", *target, env=None)
                assert not_yet.exit_code == 1 and "turn_result_timeout" in not_yet.output, not_yet.output
                cancelled = await _json("turns", "cancel", session, "t2", "--yes", *target)
                assert cancelled["turn"]["cancel_requested"] is True

                async def gone(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t2") == "cancelled"

                await until(gone)
                ended = await _json("turns", "result", session, "t2", *target, code=1)
                assert (ended["done"], ended["turn"]["error"]["code"]) == (True, "turn_cancelled")
                await _json(
                    "turns",
                    "start",
                    "console-flaky",
                    session,
                    "t3",
                    "--input",
                    json.dumps({"run": f"{run}{tag}"}),
                    *target,
                )

                async def failed(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t3") == "failed"

                await until(failed)
                forked = await _json(
                    "turns", "fork", session, "t3", "--new-turn-id", "t3-fork", "--keep", "1", *target
                )
                assert forked["turn"]["meta"]["fork"] == {"keep": 1, "turn_id": "t3"}
                resumed = await _json("turns", "resume", session, "t3", *target)
                assert resumed["turn"]["status"] in ("pending", "running", "completed")

                async def resumed_done(target: list[str] = target, session: str = session) -> bool:
                    return await _status(target, session, "t3") == "completed"

                await until(resumed_done)
                # errors are JSON objects too, with the code
                missing = await _json("turns", "show", session, "nope", *target, code=1)
                assert missing["code"] == "turn_not_found"
                again = await _json("turns", "resume", session, "t3", *target, code=1)
                assert again["code"] == "turn_not_resumable"

            # a viewer's token cannot act through the service
            viewer = ["--server", base, "--token", VIEWER_SECRET]
            refused = await _json("turns", "cancel", f"{run}-l", "t1", "--yes", *viewer, code=1)
            assert refused["code"] == "forbidden"
            assert OPS  # the same tokens as the HTTP tests

        # stdin resolution, with a third turn on the database
        await _json(
            "turns", "start", "console-approval", f"{run}-s", "t1", "--input", '{"amount": 9}', *local
        )

        async def third_waits() -> bool:
            return await _status(local, f"{run}-s", "t1") == "waiting"

        await until(third_waits)
        [wait] = (await _json("waits", "list", "--session", f"{run}-s", *local))["waits"]
        result = await _cli_input(
            '{"note": "from stdin"}', "waits", "resolve", wait["token"], "--ok", "-", *local
        )
        assert result.exit_code == 0, result.output

        # safeguards
        unknown = await _json("session", "revoke", f"{run}-typo", "--yes", *local, code=1)
        assert unknown["code"] == "session_unknown"
        assert (await _json("session", "revoke", f"{run}-typo", "--yes", "--force", *local))[
            "status"
        ] == "revoked"
        await _json(
            "turns", "start", "console-approval", f"{run}-live", "t1", "--input", '{"amount": 1}', *local
        )

        async def live_waits() -> bool:
            return await _status(local, f"{run}-live", "t1") == "waiting"

        await until(live_waits)
        live = await _json("journal", "retire", f"{run}-live", "--yes", *local, code=1)
        assert live["code"] == "session_live"
        swept = await _json("await", "cancel", f"{run}-live", *local)
        assert swept["cancelled"] == 1
        plain = await cli("await", "cancel", f"{run}-live", *local)
        assert "cancelled 0 pending await events" in plain.stdout


async def journal_paging_scenario(url: str, host: DurableEffectHost, run: str) -> None:
    """``journal sessions`` pages by keyset (--after the `next` a page printed), ``--offset``
    still works, both together are refused; ``journal show`` reads a whole scope in order."""
    from console_cases import record_steps

    from effecthost import ExecutionScope

    for n in range(3):
        await record_steps(host, ExecutionScope.turn(f"{run}-j{n}", "t"), 3 if n == 0 else 1)
    everything = await _json("journal", "sessions", "--url", url)
    mine = [s["session_id"] for s in everything["sessions"] if s["session_id"].startswith(run)]
    assert len(mine) == 3 and everything["next"] is None
    seen: list[str] = []
    after: list[str] = []
    while True:
        page = await _json("journal", "sessions", "--url", url, "--limit", "1", *after)
        seen += [s["session_id"] for s in page["sessions"]]
        if page["next"] is None:
            break
        after = ["--after", page["next"]]
    assert [s for s in seen if s.startswith(run)] == mine
    table = await cli("journal", "sessions", "--url", url, "--limit", "1", env=None)
    assert "more: --after " in table.stdout
    cursor = table.stdout.split("more: --after ")[1].split()[0]
    second = await _json("journal", "sessions", "--url", url, "--limit", "1", "--after", cursor)
    assert second["sessions"][0]["session_id"] == everything["sessions"][1]["session_id"]
    by_offset = await _json("journal", "sessions", "--url", url, "--limit", "1", "--offset", "1")
    assert by_offset["sessions"] == second["sessions"]
    both = await _json(
        "journal", "sessions", "--url", url, "--offset", "1", "--after", cursor, code=1
    )
    assert both["code"] == "invalid_argument"
    shown = await _json("journal", "show", f"{run}-j0", "--url", url)
    [scope] = shown["scopes"]
    assert [e["effect_id"] for e in scope["effects"]] == ["step-0", "step-1", "step-2"]
