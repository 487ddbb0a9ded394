"""``make demo``: a durable agent turn, killed mid-turn, recovered by a worker, parked on a human.

The turn, a ``@durable_turn``, plans with a scripted model (``turn.llm``), searches with a tool
(``turn.tool``), runs code (``turn.exec_code``), backs off with a durable sleep, waits for a human's
approval (``turn.wait``) and answers with a second model call.

1. A child process runs the turn with ``host.run_turn`` and is killed (SIGKILL) while the code runs.
2. This process starts a ``Worker``. Once the dead child's lease expires, the worker takes the turn
   over: it replays what the child recorded, runs the killed effect again, sleeps, and parks on the
   approval. The turn is then suspended and no task holds it.
3. A "webhook" resolves the approval with nothing but the key's token, through a different host
   object on the same file. The worker drives the turn again from the start: every recorded effect
   replays and only the answer is asked for.
4. The records: ``host.get_turn`` and the journal's rows by replay key. Then ``run_turn`` once more
   returns the recorded result and calls nothing.

    python -m effecthost.demo [--url sqlite:///effecthost.db] [--wait-for-approval]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ExecResponse,
    ExecutionScope,
    LlmCall,
    Resolution,
    Turn,
    TurnStatus,
    Worker,
    current_turn,
    durable_turn,
    open_host,
)
from .interceptors import EffectResult, ExecuteEffectInput, Interceptor

DEFAULT_URL = "sqlite:///effecthost.db"  # the CLI default too: `effecthost serve` shows the demo
DEMO_LEASE_TTL_S = 1.0
#: The effect during which the child process is killed.
CRASH_DURING = "compute#1"
#: The effects of the turn as the table shows them (effect ids, numbered by name: `{name}#{n}`).
EFFECTS = ("plan#1", "search#1", "compute#1", "backoff#1", "approval#1", "answer#1")

#: What this process called: the model, the tool, the code runner. A replayed effect calls nothing.
CALLS: Counter[str] = Counter()
#: The child announces its progress to the parent as JSON lines (a no-op elsewhere).
announce: Callable[[dict[str, Any]], None] = lambda _event: None  # noqa: E731


# -- the world the turn talks to: a scripted model, a tool, a code runner ------------------------


def fake_model(request: LlmCall) -> dict[str, Any]:
    """A scripted model: a plan for the question, then the answer once it knows the verdict."""
    CALLS["model"] += 1
    prompt = str(request.messages[-1]["content"])
    if prompt.startswith("approved="):
        if prompt == "approved=True":
            return {"text": "Use effecthost: journal every effect, replay it by key."}
        return {"text": "Not approved; stopping here."}
    return {"text": "Search the docs, compute, ask for approval, answer."}


def search(q: str) -> list[str]:
    CALLS["tool"] += 1
    return ["journal every effect", "replay by key"] if q else []


async def run_code(code: str) -> ExecResponse:
    CALLS["code"] += 1
    announce({"event": "executing", "effect": CRASH_DURING})
    if os.environ.get("EFFECTHOST_DEMO_HANG") == "1":
        await asyncio.sleep(3600)  # the parent kills the child here, in the middle of the effect
    return ExecResponse(observations=["45"], terminal_finish=45)


# -- the turn ------------------------------------------------------------------------------------


@durable_turn
async def agent(turn: Turn, question: str) -> dict[str, Any]:
    plan = await turn.llm(
        fake_model, model="fake-llm", messages=[{"role": "user", "content": question}], name="plan"
    )
    found = await turn.tool("search", search, {"q": "durable agents"})
    computed = await turn.exec_code("sum(range(10))", run_code, name="compute")
    total = computed.terminal_finish if isinstance(computed, ExecResponse) else None
    await turn.sleep(0.3, name="backoff")
    verdict = await turn.wait("approval", question={"plan": plan["text"], "facts": found, "sum": total})
    approved = verdict.is_ok and isinstance(verdict.value, dict) and verdict.value.get("approved") is True
    answer = await turn.llm(
        fake_model, model="fake-llm", messages=[{"role": "system", "content": f"approved={approved}"}],
        name="answer",
    )  # fmt: skip
    return {
        "plan": plan["text"],
        "found": found,
        "sum": total,
        "approval": verdict.to_json(),
        "answer": answer["text"],
    }


# -- watching it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    attempt: int  # which drive of the turn (1: the child's)
    effect_id: str
    kind: str
    executed: bool


class Origins(Interceptor):
    """Which effects each drive executed rather than replayed (the demo's table shows it)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        result = await self.next.execute_effect(input)
        envelope = input.envelope
        seen = Seen(
            current_turn().attempt, envelope.effect_id, envelope.command.kind.value, not result.replayed
        )
        self.seen.append(seen)
        if seen.executed:
            announce({"event": "recorded", "effect": seen.effect_id, "kind": seen.kind})
        return result


async def open_demo_host(url: str, **options: Any) -> tuple[DurableEffectHost, Origins]:
    origins = Origins()
    return await open_host(url, interceptors=[origins], lease_ttl_s=DEMO_LEASE_TTL_S, **options), origins


async def webhook_approves(url: str, token: str) -> None:
    """A different host object, as a webhook handler would have, resolves with only the token."""
    async with await open_host(url) as webhook:
        outcome = await webhook.resolve_await_event(
            AwaitEventKey.from_token(token), Resolution.ok({"approved": True, "by": "webhook"})
        )
        print(
            f"  a webhook (another host object on the same file) resolved it: {outcome.to_json()['status']}"
        )


# -- the child process ---------------------------------------------------------------------------


async def _child(url: str, session_id: str, turn_id: str) -> None:
    global announce

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    announce = emit
    host, _ = await open_demo_host(url)
    async with host:
        await host.run_turn(agent, session_id=session_id, turn_id=turn_id, input=_INPUT)


_INPUT = {"question": "How do I make my agent durable?"}


def _run_child_until_crash(url: str, session_id: str, turn_id: str) -> dict[str, str]:
    """Run the turn in a child process and SIGKILL it while CRASH_DURING executes. Returns what
    the child did, by effect id: ``executed`` (recorded) or ``killed``."""
    cmd = [sys.executable, "-m", "effecthost.demo", "--child", "--url", url, "--session", session_id,
           "--turn", turn_id]  # fmt: skip
    env = {**os.environ, "EFFECTHOST_DEMO_HANG": "1"}
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    done: dict[str, str] = {}
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "recorded" and event["effect"] in EFFECTS:
            done[event["effect"]] = "executed"
            print(f"  child: {event['kind']} {event['effect']} recorded")
        if event["event"] == "executing" and event["effect"] == CRASH_DURING:
            print(f"  child: exec_code {CRASH_DURING} is executing -> SIGKILL")
            os.kill(child.pid, signal.SIGKILL)
            done[CRASH_DURING] = "killed"
            break
    child.wait()
    return done


# -- the parent ----------------------------------------------------------------------------------


async def _until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo's turn did not get there in time")
        await asyncio.sleep(0.02)


def _cell(origins: Origins, attempt: int, effect_id: str) -> str:
    seen = [s for s in origins.seen if s.attempt == attempt and s.effect_id == effect_id]
    if seen:
        return "executed" if any(s.executed for s in seen) else "replayed"
    if any(s.attempt == attempt and s.effect_id == f"{effect_id}:deadline" for s in origins.seen):
        return "suspended"  # reached, parked on: the wait's deadline recorded, the wait not yet
    return "-"


def _results(result: dict[str, Any]) -> dict[str, str]:
    return {
        "plan#1": result["plan"],
        "search#1": ", ".join(result["found"]),
        "compute#1": str(result["sum"]),
        "backoff#1": "slept 0.3 s (durable timer)",
        "approval#1": f"{result['approval']['status']}: {json.dumps(result['approval'].get('payload'))}",
        "answer#1": result["answer"],
    }


def _print_table(child: dict[str, str], origins: Origins, first: int, result: dict[str, Any]) -> None:
    kinds = {s.effect_id: s.kind for s in origins.seen}
    values = _results(result)
    print()
    print(f"  {'effect':<12}{'kind':<13}{'child':<10}{'worker 1st':<12}{'worker 2nd':<12}result")
    for effect_id in EFFECTS:
        cells = [
            child.get(effect_id, "-"),
            _cell(origins, first, effect_id),
            _cell(origins, first + 1, effect_id),
        ]
        print(f"  {effect_id:<12}{kinds.get(effect_id, ''):<13}{cells[0]:<10}{cells[1]:<12}{cells[2]:<12}"
              f"{values[effect_id][:50]}")  # fmt: skip
    print()


async def main_async(url: str, wait_for_approval: bool) -> int:
    session_id, turn_id = f"demo-{int(time.time())}-{os.urandom(2).hex()}", "turn-1"
    print(f"effecthost demo on {url}\n  session {session_id}, turn {turn_id}")
    print("1. a child process runs the turn (host.run_turn); it is killed in the middle of an effect")
    child = _run_child_until_crash(url, session_id, turn_id)

    host, origins = await open_demo_host(url)
    async with host:
        info = await host.get_turn(session_id, turn_id)
        assert info is not None
        print(f"  the turn's record says {info.status}: the dead child holds it until its lease expires")
        print("2. a Worker in this process takes the turn over once that lease expires")
        started = time.perf_counter()
        handle = host.turn_handle(session_id, turn_id)
        async with Worker(host, [agent], suspend_after_s=1.0, poll_interval_s=0.2) as worker:

            async def suspended() -> bool:
                info = await host.get_turn(session_id, turn_id)
                return info is not None and info.status is TurnStatus.WAITING and worker.suspended > 0

            await _until(suspended)
            info = await host.get_turn(session_id, turn_id)
            assert info is not None and info.waiting is not None
            first = min(s.attempt for s in origins.seen)
            print(f"  the turn is {info.status} on {info.waiting['name']!r} and suspended:"
                  f" the worker drives {worker.active} turns now")  # fmt: skip
            print(f"  question: {json.dumps(info.waiting['question'])}")
            token = info.waiting["key"]
            if wait_for_approval:
                print("3. waiting for the approval; resolve it in the web page (effecthost serve) or with:")
                print(f"  effecthost await resolve --url {url} {token} --ok '{{\"approved\": true}}'")
                result = await handle.result()
            else:
                print("3. the approval arrives; the worker drives the turn again from the start")
                await webhook_approves(url, token)
                result = await handle.result(timeout=30)
        elapsed = time.perf_counter() - started
        _print_table(child, origins, first, result)
        print(f"  answer: {result['answer']}")
        print(f"  calls made by this process: model {CALLS['model']}, tool {CALLS['tool']},"
              f" code {CALLS['code']} (the rest replayed); {elapsed:.2f} s")  # fmt: skip

        print("4. the records")
        info = await host.get_turn(session_id, turn_id)
        assert info is not None
        print(
            f"  host.get_turn: {info.status}, driven {info.attempts} times, result keys {sorted(info.result)}"
        )
        rows = await host.browser.list_effects(ExecutionScope.turn(session_id, turn_id).journal_key())
        for row in rows:
            print(f"  {row.status:<10}{row.replay_key}")
        before = CALLS.copy()
        again = await host.run_turn(agent, session_id=session_id, turn_id=turn_id, input=_INPUT)
        new_calls = (CALLS - before).total()
        print(f"  host.run_turn once more: the recorded result, {new_calls} new calls;"
              f" answer: {again['answer']}")  # fmt: skip
    return 0 if new_calls == 0 and again == result else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="effecthost demo", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--url", default=os.environ.get("EFFECTHOST_URL", DEFAULT_URL))
    parser.add_argument("--wait-for-approval", action="store_true", help="wait for an outside resolve")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--turn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.child:
            asyncio.run(_child(args.url, args.session, args.turn))
            return 0
        return asyncio.run(main_async(args.url, args.wait_for_approval))
    except EffectHostError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
