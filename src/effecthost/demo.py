"""``make demo``: a fake agent turn on a durable host, killed mid-turn, then re-driven.

The turn plans with an "LLM", searches with a "tool", runs "code", backs off with a durable
sleep, drafts a reply as a durable step, waits for a human's approval (an await event resolved by
a "webhook" through a different host object, using only the key's token) and answers. A child
process runs the turn and is killed with SIGKILL in the middle of an effect; the parent then
re-drives the same turn and shows which effects were executed and which were replayed.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import (
    AwaitEvent,
    AwaitEventKey,
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecCode,
    ExecResponse,
    ExecutionScope,
    LlmCall,
    LocalExecutor,
    Outcome,
    Resolution,
    RuntimeInvocation,
    RuntimeScope,
    Sleep,
    ToolCall,
    WaitIdentity,
    open_host,
)
from .interceptors import EffectResult, ExecuteEffectInput, Interceptor

DEFAULT_URL = "sqlite:///effecthost.db"  # the CLI default too: `effecthost serve` shows the demo
#: The effect (1-based) during which the child process is killed.
CRASH_DURING = 3
DEMO_LEASE_TTL_S = 1.0


@dataclass
class EffectRecord:
    index: int
    name: str
    kind: str
    executed: bool = False
    result: str = ""


@dataclass
class TurnReport:
    effects: list[EffectRecord] = field(default_factory=list)
    answer: str = ""


Announce = Callable[[str, EffectRecord], None]


class Origins(Interceptor):
    """Which effects of a drive were executed rather than replayed (the demo's table shows it)."""

    def __init__(self) -> None:
        self.executed: set[str] = set()

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        result = await self.next.execute_effect(input)
        if not result.replayed:
            self.executed.add(input.envelope.replay_key)
        return result


async def open_demo_host(url: str, **options: Any) -> tuple[DurableEffectHost, Origins]:
    origins = Origins()
    return await open_host(url, interceptors=[origins], **options), origins


#: How each kind the demo's turn uses runs locally (sleeps and awaits are the host's own).
_EXECUTORS: dict[EffectKind, Callable[[Callable[[Any], Any]], LocalExecutor]] = {
    EffectKind.LLM_CALL: LocalExecutor.llm_call,
    EffectKind.TOOL_CALL: LocalExecutor.tool_call,
    EffectKind.EXEC_CODE: LocalExecutor.exec_code,
    EffectKind.DURABLE_STEP: LocalExecutor.durable_step,
}


class DemoTurn:
    """One agent turn. Every side effect goes through the host; nothing else touches the world."""

    def __init__(self, host: Any, session_id: str, turn_id: str, *, origins: Origins,
                 announce: Announce | None = None, slow_effect: int | None = None) -> None:  # fmt: skip
        self.host = host
        self.origins = origins
        self.scope = ExecutionScope.turn(session_id, turn_id)
        self.controller = host.scoped(self.scope).controller
        self.report = TurnReport()
        self._announce = announce or (lambda _event, _record: None)
        self._slow_effect = slow_effect

    def _envelope(self, index: int, name: str, kind: EffectKind, command: Any) -> EffectEnvelope:
        key = f"{self.scope.session_id}:{self.scope.turn_id}:{index}:{kind.value}:{name}"
        lineage = RuntimeScope.for_turn(self.scope.session_id or "", self.scope.turn_id or "", 0, 0)
        return EffectEnvelope(RuntimeInvocation.effect(lineage, name, kind, key), command)

    async def _effect(self, name: str, kind: EffectKind, command: Any, perform: Callable[[], Any]) -> Outcome:
        """Run one effect through the host. ``perform()`` returns the effect's value (the model's
        response, the tool's result, ...): it runs only when the journal has no answer yet."""
        record = EffectRecord(len(self.report.effects) + 1, name, kind.value)
        self.report.effects.append(record)

        async def run(_: Any) -> Any:
            record.executed = True
            self._announce("started", record)
            if self._slow_effect == record.index:
                await asyncio.sleep(3600)  # the parent kills us here, mid-execution
            return perform()

        envelope = self._envelope(record.index, name, kind, command)
        if kind is EffectKind.SLEEP:  # performed by the host itself: a durable timer
            executor = LocalExecutor.sleep()
        elif kind is EffectKind.AWAIT_EVENT:  # and a durable promise
            executor = LocalExecutor.await_event()
        else:
            executor = _EXECUTORS[kind](run)
        outcome: Outcome = await self.controller.execute_effect(envelope, executor)
        record.executed = envelope.replay_key in self.origins.executed
        self._announce("finished", record)
        return outcome

    async def run(self, approval_key: AwaitEventKey) -> TurnReport:
        plan = await self._effect(
            "plan", EffectKind.LLM_CALL,
            LlmCall(model="fake-llm", messages=[{"role": "user", "content": "Make my agent durable?"}]),
            lambda: {"text": "Search the docs, compute, draft, ask for approval."},
        )  # fmt: skip
        self.report.effects[-1].result = plan.into_llm_call().response["text"]
        search = await self._effect(
            "search", EffectKind.TOOL_CALL, ToolCall("call-1", "search", {"q": "durable agents"}),
            lambda: ["journal every effect", "replay by key"],
        )  # fmt: skip
        self.report.effects[-1].result = ", ".join(search.into_tool_call()["result"])
        code = await self._effect(
            "compute", EffectKind.EXEC_CODE, ExecCode("sum(range(10))"),
            lambda: ExecResponse(observations=["45"], terminal_finish=45),
        )  # fmt: skip
        response = code.into_exec_code()
        self.report.effects[-1].result = str(
            response.terminal_finish if isinstance(response, ExecResponse) else response
        )
        await self._effect("backoff", EffectKind.SLEEP, Sleep(300), lambda: None)
        self.report.effects[-1].result = "slept 300 ms (durable timer)"
        draft = await self._effect(
            "draft", EffectKind.DURABLE_STEP, DurableStep("draft", {"facts": 2}),
            lambda: "Journal every effect; replay by key.",
        )  # fmt: skip
        self.report.effects[-1].result = str(draft.into_durable_step())
        approval = await self._effect(
            "approval", EffectKind.AWAIT_EVENT, AwaitEvent(approval_key), lambda: None
        )
        verdict = approval.into_await_event()
        self.report.effects[-1].result = json.dumps(verdict.to_json())
        approved = verdict.is_ok and isinstance(verdict.value, dict) and verdict.value.get("approved") is True
        final = await self._effect(
            "answer", EffectKind.LLM_CALL,
            LlmCall(model="fake-llm", messages=[{"role": "system", "content": f"approved={approved}"}]),
            lambda: {"text": "Use effecthost." if approved else "Not approved; stopping."},
        )  # fmt: skip
        self.report.answer = final.into_llm_call().response["text"]
        self.report.effects[-1].result = self.report.answer
        return self.report


async def approval_key_for(host: Any, session_id: str, turn_id: str) -> AwaitEventKey:
    key: AwaitEventKey = await host.await_event_key(
        ExecutionScope.turn(session_id, turn_id), WaitIdentity.tool_completion("approval")
    )
    return key


async def webhook_approves(url: str, token: str, session_id: str) -> None:
    """A different host object — as a webhook handler would have — resolves with only the token."""
    async with await open_host(url) as webhook:
        key = AwaitEventKey.from_token(token)
        while not await webhook.list_outstanding_await_event_keys(session_id):
            if await webhook.peek_await_event(key) is not None:
                return
            await asyncio.sleep(0.05)
        outcome = await webhook.resolve_await_event(key, Resolution.ok({"approved": True, "by": "webhook"}))
        print(f"  webhook resolved the approval: {outcome.to_json()['status']}")


async def _child(url: str, session_id: str, turn_id: str) -> None:
    def announce(event: str, record: EffectRecord) -> None:
        print(json.dumps({"event": event, "index": record.index, "name": record.name}), flush=True)

    host, origins = await open_demo_host(url, lease_ttl_s=DEMO_LEASE_TTL_S)
    async with host:
        key = await approval_key_for(host, session_id, turn_id)
        turn = DemoTurn(
            host, session_id, turn_id, origins=origins, announce=announce, slow_effect=CRASH_DURING
        )
        await turn.run(key)


def _run_child_until_crash(url: str, session_id: str, turn_id: str) -> list[str]:
    """Start the turn in a child process and SIGKILL it while effect CRASH_DURING executes."""
    cmd = [
        sys.executable,
        "-m",
        "effecthost.demo",
        "--child",
        "--url",
        url,
        "--session",
        session_id,
        "--turn",
        turn_id,
    ]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    finished: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "finished":
            finished.append(event["name"])
            print(f"  child: effect {event['index']} {event['name']} recorded")
        if event["event"] == "started" and event["index"] == CRASH_DURING:
            print(f"  child: effect {event['index']} {event['name']} is executing -> SIGKILL")
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    return finished


def _print_table(before: list[str], report: TurnReport) -> None:
    print()
    print(f"  {'#':<3}{'effect':<10}{'kind':<14}{'first run (killed)':<21}{'re-drive':<11}result")
    for record in report.effects:
        first = "recorded" if record.name in before else "-"
        again = "executed" if record.executed else "replayed"
        print(
            f"  {record.index:<3}{record.name:<10}{record.kind:<14}{first:<21}{again:<11}{record.result[:60]}"
        )
    print()


async def main_async(url: str, wait_for_approval: bool) -> int:
    session_id, turn_id = f"demo-{int(time.time())}-{os.urandom(2).hex()}", "turn-1"
    print(f"effecthost demo on {url}\n  session {session_id}, turn {turn_id}")
    print("1. a child process starts the turn; it is killed mid-effect")
    before = _run_child_until_crash(url, session_id, turn_id)
    print("2. a new process re-drives the same turn (the killed effect is taken over once its lease expires)")
    host, origins = await open_demo_host(url, lease_ttl_s=DEMO_LEASE_TTL_S)
    async with host:
        key = await approval_key_for(host, session_id, turn_id)
        token = key.to_token()
        if wait_for_approval:
            print("  waiting for approval; resolve it in the web page (effecthost serve) or with:")
            print(f"  effecthost await resolve --url {url} {token} --ok '{{\"approved\": true}}'")
            approver = None
        else:
            approver = asyncio.ensure_future(webhook_approves(url, token, session_id))
        started = time.perf_counter()
        report = await DemoTurn(host, session_id, turn_id, origins=origins).run(key)
        if approver is not None:
            await approver
        elapsed = time.perf_counter() - started
    _print_table(before, report)
    executed = sum(r.executed for r in report.effects)
    print(f"  answer: {report.answer}")
    print(f"  {len(report.effects) - executed} effects replayed from the journal, {executed} executed, "
          f"re-drive took {elapsed:.2f} s")  # fmt: skip
    print("3. driving the finished turn once more replays every effect and executes nothing")
    host, origins = await open_demo_host(url)
    async with host:
        started = time.perf_counter()
        again = await DemoTurn(host, session_id, turn_id, origins=origins).run(
            await approval_key_for(host, session_id, turn_id)
        )
        elapsed = time.perf_counter() - started
    executed = sum(r.executed for r in again.effects)
    print(f"  {len(again.effects) - executed} replayed, {executed} executed in {elapsed * 1000:.1f} ms; "
          f"answer: {again.answer}")  # fmt: skip
    return 0 if executed == 0 and again.answer == report.answer else 1


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
