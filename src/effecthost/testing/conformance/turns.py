"""Durable-turn vectors: what every substrate that keeps turn records must do (issue "Durable
turns"), through the public turn API only. The factory must open hosts over one substrate (a
resolver and a worker on different host objects, as in production).

Each vector uses fresh session ids, so a kit run on a user's database never collides with its
turns (they are left behind like the other vectors' rows).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from effecthost import (
    DurableEffectHost,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    Resolution,
    RetryPolicy,
    Turn,
    TurnStatus,
    Worker,
    durable_turn,
    step,
)

from ._support import ConformanceFailure, HostFactory, HostPool, check, check_eq, expect_code


def _session() -> str:
    return f"conformance-turns-{uuid.uuid4().hex[:12]}"


async def _durable(hosts: HostPool[Any]) -> DurableEffectHost:
    host = await hosts.new()
    if not isinstance(host, DurableEffectHost):
        raise ConformanceFailure("the turn vectors need DurableEffectHost hosts (open_host)")
    return host


async def _replay_keys(host: DurableEffectHost, session: str, turn_id: str) -> list[str]:
    rows = await host.browser.list_effects(ExecutionScope.turn(session, turn_id).journal_key())
    return sorted(row.replay_key for row in rows)


async def turn_runs_once_and_replays(make: HostFactory) -> None:
    """A turn's effects run once; running the same turn again returns the recorded result and
    runs nothing; its record says completed, with its input and result; starting it again (same
    function and input) is the same turn, and other input under its id is refused."""
    calls: list[str] = []

    @durable_turn(name="conformance_runs_once")
    async def fn(turn: Turn, x: int) -> dict[str, Any]:
        def double() -> int:
            calls.append("double")
            return x * 2

        def echo(value: int) -> int:
            calls.append("echo")
            return value

        doubled = await turn.step("double", double)
        echoed = await turn.tool("echo", echo, {"value": doubled})
        return {"x": x, "doubled": doubled, "echoed": echoed}

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        first = await host.run_turn(fn, session_id=session, turn_id="t", input={"x": 21})
        check_eq(first, {"x": 21, "doubled": 42, "echoed": 42}, "the turn's result")
        again = await (await _durable(hosts)).run_turn(fn, session_id=session, turn_id="t", input={"x": 21})
        check_eq(again, first, "a second run of a completed turn returns its recorded result")
        check_eq(calls, ["double", "echo"], "each effect ran exactly once")
        info = await host.get_turn(session, "t")
        check(info is not None, "get_turn finds the turn")
        assert info is not None
        check_eq(
            (info.status, info.name, info.input, info.result),
            (TurnStatus.COMPLETED, fn.name, {"x": 21}, first),
            "record",
        )
        handle = await host.start_turn(fn, session_id=session, turn_id="t", input={"x": 21})
        check_eq(await handle.result(timeout=5), first, "start_turn again returns the same turn")
        await expect_code(
            host.start_turn(fn, session_id=session, turn_id="t", input={"x": 1}),
            ErrorCode.TURN_START_CONFLICT,
            "other input under a used turn id",
        )
        check(await host.get_turn(session, "missing") is None, "get_turn of an unknown turn is None")


async def turn_keys_follow_the_convention(make: HostFactory) -> None:
    """Replay keys are ``{session}:{turn}:0:0:{kind}:{name}#{n}``, numbered in call order even for
    effects started together; an explicit key is used as the effect id, once per turn."""

    @durable_turn(name="conformance_keys")
    async def fn(turn: Turn) -> list[Any]:
        together = await asyncio.gather(*(turn.step("fetch", _slow_echo, i) for i in (3, 2, 1)))
        await turn.call("fetch", _slow_echo, (9,), key="explicit")
        try:
            await turn.call("fetch", _slow_echo, (9,), key="explicit")
        except EffectHostError as err:
            return [together, err.code]
        return [together, None]

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        result = await host.run_turn(fn, session_id=session, turn_id="t")
        check_eq(
            result, [[3, 2, 1], "turn_key_reused"], "gathered results in call order, a reused key refused"
        )
        prefix = f"{session}:t:0:0:durable_step:"
        check_eq(
            await _replay_keys(host, session, "t"),
            sorted([f"{prefix}fetch#1", f"{prefix}fetch#2", f"{prefix}fetch#3", f"{prefix}explicit"]),
            "the journal's replay keys",
        )
        rows = await host.browser.list_effects(ExecutionScope.turn(session, "t").journal_key())
        by_key = {row.replay_key: row for row in rows}
        first = by_key[f"{prefix}fetch#1"].envelope_json
        check('"input":[3]' in first, "fetch#1 is the first call (argument 3)")


async def _slow_echo(value: int) -> int:
    await asyncio.sleep(0.001 * value)  # finish in the reverse order of the calls
    return value


async def turn_changed_code_reports_a_mismatch(make: HostFactory) -> None:
    """A re-drive whose effect no longer matches its recorded envelope fails the turn with the
    journal's mismatch code and the divergent paths, instead of going on."""
    name = "conformance_changed_code"

    @durable_turn(name=name)
    async def first(turn: Turn) -> None:
        await turn.step("load", lambda: "v1")
        raise ValueError("stop here")

    @durable_turn(name=name)
    async def changed(turn: Turn) -> str:
        return str(await turn.step("load", lambda value: value, "an argument that was not there"))

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        err = await expect_code(
            host.run_turn(first, session_id=session, turn_id="t"), ErrorCode.TURN_FAILED, "first run"
        )
        check("ValueError" in err.message, "a plain exception's type is in the turn's error")
        await host.resume_turn(session, "t")
        err = await expect_code(
            host.run_turn(changed, session_id=session, turn_id="t"),
            f"{host.backend}_effect_replay_hash_conflict",
            "a changed step under a recorded key",
        )
        paths = (err.summary or {}).get("first_divergent_paths") or []
        check(
            any("input" in str(path) for path in paths),
            f"the mismatch names the changed arguments among its divergent paths (got {err.summary!r})",
        )


async def turn_retries_and_resumes(make: HostFactory) -> None:
    """Each attempt is its own effect (``:attempt:{n}``), backoffs are journaled; a turn that
    failed resumes from its failing effect, which runs once more (the old error stays)."""
    failures = {"flaky": 2, "broken": 1}
    runs: list[str] = []

    def work(name: str) -> str:
        runs.append(name)
        if failures[name] > 0:
            failures[name] -= 1
            raise RuntimeError(f"{name} failed")
        return f"{name} ok"

    @durable_turn(name="conformance_retries")
    async def fn(turn: Turn) -> list[str]:
        flaky = await turn.call("flaky", work, ("flaky",), retry=RetryPolicy(attempts=3, initial_s=0.01))
        broken = await turn.step("broken", work, "broken")
        return [flaky, broken]

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        err = await expect_code(
            host.run_turn(fn, session_id=session, turn_id="t"), ErrorCode.TURN_STEP_FAILED, "first run"
        )
        check("broken failed" in err.message, "the turn's error is the failing step's")
        check_eq(runs, ["flaky", "flaky", "flaky", "broken"], "two retries, then the failing step once")
        handle = await host.resume_turn(session, "t")
        check_eq(
            await host.run_turn(fn, session_id=session, turn_id="t"), ["flaky ok", "broken ok"], "resumed"
        )
        check_eq(await handle.result(timeout=5), ["flaky ok", "broken ok"], "the handle sees the end")
        check_eq(runs, ["flaky", "flaky", "flaky", "broken", "broken"], "only the failing step ran again")
        info = await host.get_turn(session, "t")
        assert info is not None
        check_eq((info.status, info.resumes), (TurnStatus.COMPLETED, 1), "one resume")
        check_eq(
            [e["code"] for e in info.meta.get("set_aside", [])], ["turn_step_failed"], "the error set aside"
        )
        await expect_code(host.resume_turn(session, "t"), ErrorCode.TURN_NOT_RESUMABLE, "a completed turn")
        keys = await _replay_keys(host, session, "t")
        base = f"{session}:t:0:0:durable_step:"
        for key in (f"{base}flaky#1", f"{base}flaky#1:attempt:2", f"{base}flaky#1:attempt:3",
                    f"{base}flaky#1:attempt:1:sleep", f"{base}flaky#1:attempt:2:sleep",
                    f"{base}broken#1", f"{base}broken#1:attempt:2"):  # fmt: skip
            check(key in keys, f"journaled: {key}")


async def turn_waits_suspend_and_resume(make: HostFactory) -> None:
    """Under a worker, a long wait suspends the turn (record waiting, unheld; the wait listed as
    outstanding); a resolve from another host object resumes it with the resolved value."""
    ran: list[str] = []

    @durable_turn(name="conformance_waits")
    async def fn(turn: Turn, order: str) -> Any:
        await turn.step("prepare", lambda: ran.append("prepare"))
        answer = await turn.wait("approval", question={"order": order})
        return {"order": order, "answer": answer.to_json()}

    async with HostPool(make) as hosts:
        host, resolver, session = await _durable(hosts), await _durable(hosts), _session()
        handle = await resolver.start_turn(fn, session_id=session, turn_id="t", input={"order": "o-1"})
        async with Worker(host, [fn], suspend_after_s=0.01, poll_interval_s=0.05):
            record = await _until(resolver, session, "t", lambda i: i.status is TurnStatus.WAITING)
            check_eq(
                (record.waiting or {}).get("question"), {"order": "o-1"}, "the record shows the question"
            )
            listed = await resolver.list_outstanding_await_event_keys(session)
            check_eq(len(listed), 1, "the suspended wait is outstanding")
            check_eq(listed[0].to_token(), (record.waiting or {}).get("key"), "the record names its key")
            await resolver.resolve_await_event(listed[0], Resolution.ok("approved"))
            result = await handle.result(timeout=10)
        check_eq(
            result, {"order": "o-1", "answer": Resolution.ok("approved").to_json()}, "resumed with the value"
        )
        check_eq(ran, ["prepare"], "the re-drive replayed the step")
        check_eq(await resolver.list_outstanding_await_event_keys(session), [], "nothing outstanding after")


async def turn_wait_deadline_is_durable(make: HostFactory) -> None:
    """A suspended wait's deadline is absolute and kept: when it passes, the turn resumes and the
    wait returns ``Resolution.TIMEOUT``."""

    @durable_turn(name="conformance_deadline")
    async def fn(turn: Turn) -> Any:
        return (await turn.wait("reply", timeout=0.3)).to_json()

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        handle = await host.start_turn(fn, session_id=session, turn_id="t")
        async with Worker(host, [fn], suspend_after_s=0.05, poll_interval_s=0.05):
            check_eq(await handle.result(timeout=10), Resolution.TIMEOUT.to_json(), "the wait timed out")


async def turn_cancel_ends_the_turn(make: HostFactory) -> None:
    """Cancelling a suspended turn ends it ``cancelled`` and resolves its wait ``Cancelled``;
    ``handle.result()`` raises ``turn_cancelled``; cancelling again changes nothing."""

    @durable_turn(name="conformance_cancel")
    async def fn(turn: Turn) -> Any:
        return (await turn.wait("never")).to_json()

    async with HostPool(make) as hosts:
        host, other, session = await _durable(hosts), await _durable(hosts), _session()
        handle = await host.start_turn(fn, session_id=session, turn_id="t")
        async with Worker(host, [fn], suspend_after_s=0.01, poll_interval_s=0.05):
            await _until(other, session, "t", lambda i: i.status is TurnStatus.WAITING)
            key = (await other.list_outstanding_await_event_keys(session))[0]
            info = await other.cancel_turn(session, "t")
            check_eq(info.status, TurnStatus.CANCELLED, "an unheld turn ends cancelled at once")
            await expect_code(
                handle.result(timeout=5), ErrorCode.TURN_CANCELLED, "the result of a cancelled turn"
            )
        check_eq(await other.peek_await_event(key), Resolution.CANCELLED, "its wait resolved Cancelled")
        check_eq((await other.cancel_turn(session, "t")).status, TurnStatus.CANCELLED, "cancel is idempotent")


async def turn_apis_refuse_outside_a_turn(make: HostFactory) -> None:
    """A turn function called directly, or a ``@step`` function outside a driven turn, raises
    ``turn_context_missing`` and runs nothing."""
    ran: list[str] = []

    @step
    def side_effect() -> None:
        ran.append("ran")

    @durable_turn(name="conformance_outside")
    async def fn(turn: Turn) -> None:
        await side_effect()

    async with HostPool(make) as hosts:
        await _durable(hosts)
        for call in (lambda: fn(), side_effect):
            try:
                awaitable = call()
                await awaitable
            except EffectHostError as err:
                check_eq(err.code, ErrorCode.TURN_CONTEXT_MISSING, "outside a turn")
            else:
                raise ConformanceFailure("ran outside a turn")
        check_eq(ran, [], "nothing ran")


async def turn_fork_keeps_the_first_effects(make: HostFactory) -> None:
    """``fork_turn(keep=N)``: a new turn whose first N effects (program order) take the source's
    recorded outcomes, a wait's resolution included, and whose later effects run again."""
    runs: list[str] = []

    def work(name: str) -> str:
        runs.append(name)
        return f"{name}@{len(runs)}"

    @durable_turn(name="conformance_fork")
    async def fn(turn: Turn) -> list[Any]:
        first = await turn.step("first", work, "first")
        approval = await turn.wait("approval")
        second = await turn.step("second", work, "second")
        return [first, approval.to_json(), second]

    async with HostPool(make) as hosts:
        host, session = await _durable(hosts), _session()
        running = asyncio.ensure_future(host.run_turn(fn, session_id=session, turn_id="t"))
        info = await _until(host, session, "t", lambda i: i.status is TurnStatus.WAITING)
        await host.resolve_await_event(
            (await host.list_outstanding_await_event_keys(session))[0], Resolution.ok("yes")
        )
        original = await running
        check_eq(original, ["first@1", Resolution.ok("yes").to_json(), "second@2"], "the source turn")
        check(info is not None, "the source waited")
        handle = await host.fork_turn(session, "t", new_turn_id="fork", keep=2)
        forked = await host.run_turn(fn, session_id=session, turn_id="fork")
        check_eq(forked, ["first@1", Resolution.ok("yes").to_json(), "second@3"], "kept two, ran the third")
        check_eq(runs, ["first", "second", "second"], "only the effect after the kept ones ran")
        check_eq(await handle.result(timeout=5), forked, "the fork's handle")
        fork_info = await handle.info()
        check_eq(fork_info.meta.get("fork"), {"keep": 2, "turn_id": "t"}, "the fork's origin in its record")
        again = await host.fork_turn(session, "t", new_turn_id="fork", keep=2)
        check_eq(await again.result(timeout=5), forked, "forking again under the same id is the same fork")
        await expect_code(
            host.fork_turn(session, "t", new_turn_id="fork", keep=1),
            ErrorCode.TURN_START_CONFLICT,
            "another fork under a used id",
        )


async def _until(host: DurableEffectHost, session: str, turn_id: str, done: Any) -> Any:
    for _ in range(1000):
        info = await host.get_turn(session, turn_id)
        if info is not None and done(info):
            return info
        await asyncio.sleep(0.01)
    raise ConformanceFailure(f"turn {session}/{turn_id} never reached the expected state")
