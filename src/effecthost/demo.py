"""``make demo``: a support agent on a durable turn, killed mid-turn, recovered, parked on an approval.

The agent (``effecthost.agents``) answers a customer with a scripted model: it plans, looks the
order up and searches the help center (two tool calls at once), asks to refund the order (a tool
that needs a human's approval) and answers. Each model request is one ``llm_call`` effect, each tool
call one ``tool_call`` effect keyed by the model's call id, the approval one await event.

1. A child process runs the turn with ``host.run_turn`` and is killed (SIGKILL) while the search
   tool runs.
2. This process starts a ``Worker``. Once the dead child's lease expires, the worker takes the turn
   over: it replays what the child recorded (the model's plan is not asked for again), runs the
   killed search again, asks the model for its next step, and parks on the refund's approval. The
   turn is then suspended and no task holds it.
3. A "webhook" approves with nothing but the key's token, through a different host object on the
   same file (or a person does, in the web page, with ``--wait-for-approval``). The worker drives
   the turn again from the start: every recorded effect replays, the refund runs, the model answers.
4. Which effects each drive executed and which it replayed, the model requests and tokens the
   replays saved, the journal's rows. ``run_turn`` once more returns the recorded result.

    python -m effecthost.demo [--url sqlite:///effecthost.db] [--wait-for-approval]
                              [--model scripted | openai:NAME | anthropic:NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
    AwaitEvent,
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LlmCallOutcome,
    Resolution,
    ToolCall,
    Turn,
    TurnStatus,
    Worker,
    current_turn,
    durable_turn,
    idempotency_key,
    open_host,
)
from .agents import (
    Agent,
    AgentLimits,
    AnthropicModel,
    ModelClient,
    ModelRequest,
    ModelResponse,
    OpenAIModel,
    ScriptedModel,
    StreamDelta,
    Tool,
    ToolError,
    agent_tool,
    call,
    calls,
    reply,
)
from .interceptors import EffectResult, ExecuteEffectInput, Interceptor

DEFAULT_URL = "sqlite:///effecthost.db"  # the CLI default too: `effecthost serve` shows the demo
DEMO_LEASE_TTL_S = 1.0
#: The tool during which the child process is killed.
CRASH_DURING = "search_help_center"
PROMPT = "My order A-1042 arrived 6 days late. Can I get some money back?"
INSTRUCTIONS = (
    "You are a support agent for an online shop. Look the order up and search the help center"
    " before you decide. Refunds need a human's approval: ask for one with issue_refund when the"
    " policy allows it. Answer the customer in two sentences."
)

#: What this process called: the tools. A replayed tool call calls nothing.
CALLS: Counter[str] = Counter()
#: The child announces its progress to the parent as JSON lines (a no-op elsewhere).
announce: Callable[[dict[str, Any]], None] = lambda _event: None  # noqa: E731


# -- the tools -----------------------------------------------------------------------------------


@agent_tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up.

    Args:
        order_id: the order's id, such as A-1042
    """
    CALLS["lookup_order"] += 1
    if order_id != "A-1042":
        raise ToolError(f"there is no order {order_id}")
    return {"order_id": order_id, "total_eur": 120, "promised": "2026-11-20", "delivered": "2026-11-26"}


@agent_tool
async def search_help_center(query: str) -> list[str]:
    """Search the help center's articles.

    Args:
        query: what to look for
    """
    CALLS["search_help_center"] += 1
    if os.environ.get("EFFECTHOST_DEMO_HANG") == "1":
        await asyncio.sleep(3600)  # the parent kills the child here, in the middle of the tool call
    return [
        "Late deliveries: 5 or more days late, refund 25% of the order.",
        "Refunds go back to the original payment method within 3 days.",
    ]


@agent_tool(needs_approval=True)
def issue_refund(order_id: str, amount_eur: int, reason: str) -> dict[str, Any]:
    """Refund part of an order to the customer (a human approves every refund).

    Args:
        order_id: the order to refund
        amount_eur: how much, in whole euros
        reason: why, in a few words
    """
    CALLS["issue_refund"] += 1
    # the payment API deduplicates by this key: the same on every retry and re-drive of this call
    reference = "RF-" + hashlib.sha256(idempotency_key().encode()).hexdigest()[:8].upper()
    return {"order_id": order_id, "refunded_eur": amount_eur, "reference": reference}


TOOLS: list[Tool] = [lookup_order, search_help_center, issue_refund]


# -- the model -----------------------------------------------------------------------------------


def support_script(request: ModelRequest) -> ModelResponse:
    """The scripted model: a plan and two lookups, a refund to approve, an answer."""
    answered = sum(1 for message in request.messages if message.get("role") == "assistant")
    if answered == 0:
        return calls(
            call("lookup_order", {"order_id": "A-1042"}, id="call_lookup"),
            call("search_help_center", {"query": "refund for a late delivery"}, id="call_search"),
            text="Plan: look up the order and the refund policy, refund if it allows, then answer.",
        )
    if answered == 1:
        return calls(
            call(
                "issue_refund",
                {"order_id": "A-1042", "amount_eur": 30, "reason": "delivered 6 days late"},
                id="call_refund",
            ),
            text="The policy allows 25% of 120 EUR for a delay of 5 days or more: 30 EUR.",
        )
    last = request.messages[-1]
    if last.get("is_error"):
        return reply(f"Sorry, I could not refund your order ({last.get('content')}).")
    refund = json.loads(str(last.get("content")))
    return reply(
        f"Your order A-1042 arrived 6 days late, so I refunded {refund['refunded_eur']} EUR"
        f" (reference {refund['reference']}). It will be back on your card within 3 days."
    )


def model_from(spec: str) -> ModelClient:
    """``scripted``, ``openai:NAME`` (OPENAI_API_KEY, OPENAI_BASE_URL) or ``anthropic:NAME``."""
    provider, _, name = spec.partition(":")
    if provider == "scripted":
        return ScriptedModel(support_script, name="support")
    if provider == "openai" and name:
        return OpenAIModel(name)
    if provider == "anthropic" and name:
        return AnthropicModel(name)
    raise EffectHostError(
        ErrorCode.INVALID_ARGUMENT, f"--model is scripted, openai:NAME or anthropic:NAME, not {spec!r}"
    )


def make_agent(spec: str) -> Agent:
    return Agent(
        "support",
        model_from(spec),
        instructions=INSTRUCTIONS,
        tools=TOOLS,
        limits=AgentLimits(max_model_requests=8, max_tool_calls=8),
    )


#: Text deltas streamed to this process, by (drive, model request): (text, replayed).
STREAMED: dict[tuple[int, int], tuple[str, bool]] = {}


def stream_sink(delta: StreamDelta) -> None:
    key = (current_turn().attempt, delta.request)
    text, _ = STREAMED.get(key, ("", delta.replayed))
    STREAMED[key] = (text + delta.text, delta.replayed)


AGENT: Agent | None = None


@durable_turn(name="support")
async def support(turn: Turn, prompt: str) -> dict[str, Any]:
    assert AGENT is not None
    result = await AGENT.run(turn, prompt, stream=stream_sink)
    return result.to_json()


# -- watching it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    attempt: int  # which drive of the turn (1: the child's)
    effect_id: str
    kind: str
    executed: bool
    tokens: int  # a model request's tokens (input + output)


class Origins(Interceptor):
    """Which effects each drive executed rather than replayed (the demo's table shows it)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        envelope = input.envelope
        command = envelope.command
        if isinstance(command, ToolCall):
            announce({"event": "started", "effect": envelope.effect_id, "tool": command.tool_name})
        elif isinstance(command, AwaitEvent):
            announce({"event": "waiting", "effect": envelope.effect_id})
        result = await self.next.execute_effect(input)
        tokens = 0
        if isinstance(result.outcome, LlmCallOutcome) and isinstance(result.outcome.response, dict):
            usage = result.outcome.response.get("usage") or {}
            tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        kind = envelope.command.kind.value
        seen = Seen(current_turn().attempt, envelope.effect_id, kind, not result.replayed, tokens)
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
            f"  a webhook (another host object on the same file) approved it: {outcome.to_json()['status']}"
        )


# -- the child process ---------------------------------------------------------------------------


async def _child(url: str, session_id: str, turn_id: str, model: str) -> None:
    global announce, AGENT

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    announce = emit
    AGENT = make_agent(model)
    host, _ = await open_demo_host(url)
    async with host:
        await host.run_turn(support, session_id=session_id, turn_id=turn_id, input={"prompt": PROMPT})


def _run_child_until_crash(url: str, session_id: str, turn_id: str, model: str) -> dict[str, str]:
    """Run the turn in a child process and SIGKILL it while the search tool runs (or, should a
    real model never call it, once the turn reaches its approval). Returns what the child did,
    by effect id: ``executed`` (recorded) or ``killed``."""
    cmd = [sys.executable, "-m", "effecthost.demo", "--child", "--url", url, "--session", session_id,
           "--turn", turn_id, "--model", model]  # fmt: skip
    env = {**os.environ, "EFFECTHOST_DEMO_HANG": "1"}
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    done: dict[str, str] = {}
    started: dict[str, str] = {}  # tool calls started, by effect id: the tool's name
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "recorded":
            done[event["effect"]] = "executed"
            print(f"  child: {event['kind']} {event['effect']} recorded")
        elif event["event"] == "started":
            started[event["effect"]] = event["tool"]
        hanging = [effect for effect, tool in started.items() if tool == CRASH_DURING and effect not in done]
        # the search hangs; the calls started beside it finish first
        others = all(effect in done for effect, tool in started.items() if tool != CRASH_DURING)
        if (hanging and others) or event["event"] == "waiting":
            if hanging:
                print(f"  child: tool_call {hanging[0]} ({CRASH_DURING}) is executing -> SIGKILL")
                done[hanging[0]] = "killed"
            else:
                print("  child: the turn reached its approval -> SIGKILL")
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    return done


# -- the parent ----------------------------------------------------------------------------------


async def _until(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
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


def _print_table(child: dict[str, str], origins: Origins, first: int) -> None:
    effects: dict[str, str] = {}
    for seen in origins.seen:
        if not seen.effect_id.endswith(":deadline"):
            effects.setdefault(seen.effect_id, seen.kind)
    print()
    print(f"  {'effect':<22}{'kind':<13}{'child':<10}{'worker 1st':<12}{'worker 2nd':<12}")
    for effect_id, kind in effects.items():
        cells = [child.get(effect_id, "-"), _cell(origins, first, effect_id)]
        cells.append(_cell(origins, first + 1, effect_id))
        print(f"  {effect_id:<22}{kind:<13}{cells[0]:<10}{cells[1]:<12}{cells[2]:<12}")
    print()


def _savings(origins: Origins) -> tuple[int, int, int, int]:
    """Model requests asked and answered from the journal by this process's drives, and their tokens."""
    asked = [s for s in origins.seen if s.kind == "llm_call" and s.executed]
    replayed = [s for s in origins.seen if s.kind == "llm_call" and not s.executed]
    return len(asked), sum(s.tokens for s in asked), len(replayed), sum(s.tokens for s in replayed)


async def main_async(url: str, wait_for_approval: bool, model: str = "scripted") -> int:
    global AGENT
    AGENT = make_agent(model)  # checks --model (and its extra) before anything runs
    session_id, turn_id = f"demo-{int(time.time())}-{os.urandom(2).hex()}", "turn-1"
    print(f"effecthost demo on {url}: a support agent ({AGENT.model.model})")
    print(f"  session {session_id}, turn {turn_id}")
    print(f"  customer: {PROMPT}")
    print("1. a child process runs the turn (host.run_turn); it is killed in the middle of a tool call")
    child = _run_child_until_crash(url, session_id, turn_id, model)

    host, origins = await open_demo_host(url)
    async with host:
        info = await host.get_turn(session_id, turn_id)
        assert info is not None
        print(f"  the turn's record says {info.status}: the dead child holds it until its lease expires")
        print("2. a Worker in this process takes the turn over once that lease expires")
        started = time.perf_counter()
        handle = host.turn_handle(session_id, turn_id)
        async with Worker(host, [support], suspend_after_s=1.0, poll_interval_s=0.2) as worker:

            async def suspended() -> bool:
                info = await host.get_turn(session_id, turn_id)
                return info is not None and info.status is TurnStatus.WAITING and worker.suspended > 0

            await _until(suspended)
            info = await host.get_turn(session_id, turn_id)
            assert info is not None and info.waiting is not None
            first = min(s.attempt for s in origins.seen)
            print(f"  the turn is {info.status} on {info.waiting['name']!r} and suspended:"
                  f" the worker drives {worker.active} turns now")  # fmt: skip
            question = info.waiting["question"]
            print(f"  question: {question['tool']}({json.dumps(question['arguments'])})")
            token = info.waiting["key"]
            if wait_for_approval:
                print("3. waiting for the approval; resolve it in the web page (effecthost serve) or with:")
                print(f"  effecthost await resolve --url {url} {token} --ok '{{\"approved\": true}}'")
                result = await handle.result()
            else:
                print("3. the approval arrives; the worker drives the turn again from the start")
                await webhook_approves(url, token)
                result = await handle.result(timeout=60)
        elapsed = time.perf_counter() - started
        _print_table(child, origins, first)
        print(f"  answer: {result['output']}")
        asked, asked_tokens, replayed, saved = _savings(origins)
        print(f"  this process asked the model {asked} times ({asked_tokens} tokens); {replayed} model"
              f" requests were answered from the journal instead: {saved} tokens not paid twice")  # fmt: skip
        print(f"  tools run by this process: {dict(sorted(CALLS.items()))}; {elapsed:.2f} s")
        final = result["replayed"]
        print(f"  the last drive: {result['executed']['model_requests']} model request asked,"
              f" {final['model_requests']} replayed ({final['usage']['input_tokens']}"
              f" + {final['usage']['output_tokens']} tokens saved), {final['tool_calls']} tool calls"
              f" replayed")  # fmt: skip
        replayed_texts = sum(1 for (_, _), (_, was) in STREAMED.items() if was)
        print(f"  streamed to this process: {len(STREAMED)} model texts, {replayed_texts} marked replayed")

        print("4. the records")
        info = await host.get_turn(session_id, turn_id)
        assert info is not None
        print(f"  host.get_turn: {info.status}, driven {info.attempts} times, stop {info.result['stop']}")
        rows = await host.browser.list_effects(ExecutionScope.turn(session_id, turn_id).journal_key())
        for row in rows:
            print(f"  {row.status:<10}{row.replay_key}")
        before = CALLS.copy()
        again = await host.run_turn(support, session_id=session_id, turn_id=turn_id, input={"prompt": PROMPT})
        new_calls = (CALLS - before).total()
        print(f"  host.run_turn once more: the recorded result, {new_calls} new calls")
    return 0 if new_calls == 0 and again == result and result["stop"] == "final_answer" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="effecthost demo", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--url", default=os.environ.get("EFFECTHOST_URL", DEFAULT_URL))
    parser.add_argument("--wait-for-approval", action="store_true", help="wait for an outside resolve")
    parser.add_argument(
        "--model",
        default="scripted",
        help="scripted (default), openai:NAME (OPENAI_API_KEY, OPENAI_BASE_URL) or anthropic:NAME",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--turn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.child:
            asyncio.run(_child(args.url, args.session, args.turn, args.model))
            return 0
        return asyncio.run(main_async(args.url, args.wait_for_approval, args.model))
    except EffectHostError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
