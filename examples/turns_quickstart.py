"""Durable turns on SQLite: run one, run it again, park one on a human, cancel one, resume one.

python examples/turns_quickstart.py
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from typing import Any

from effecthost import (
    DurableEffectHost,
    EffectHostError,
    ExecutionScope,
    LlmCall,
    Resolution,
    RetryPolicy,
    Turn,
    TurnStatus,
    Worker,
    durable_turn,
    idempotency_key,
    open_host,
    step,
    tool,
)

CALLS: Counter[str] = Counter()  # what really ran: a replayed effect runs nothing
OUTAGE = {"failures": 1}  # the booking API times out this many more times


@step
def forecast(city: str) -> dict[str, Any]:
    CALLS["forecast"] += 1
    return {"city": city, "sky": "clear", "temp_c": 21}


@tool(retry=RetryPolicy(attempts=3, initial_s=0.05, max_s=1.0))
def book_table(restaurant: str, people: int) -> dict[str, Any]:
    CALLS["book_table"] += 1
    if OUTAGE["failures"] > 0:
        OUTAGE["failures"] -= 1
        raise TimeoutError("the booking API timed out")
    # the same on every attempt and every re-drive of this call: the API can deduplicate by it
    return {"restaurant": restaurant, "people": people, "ref": idempotency_key()}


def model(request: LlmCall) -> dict[str, Any]:  # a scripted stand-in for a model client
    CALLS["model"] += 1
    return {"text": f"Dinner outside at Chez Paul? ({len(request.messages)} message)", "pick": "Chez Paul"}


@durable_turn
async def plan_evening(turn: Turn, city: str, people: int) -> dict[str, Any]:
    # numbered when called, in the order written: forecast#1 is `city`'s, forecast#2 Paris's
    here, there = await asyncio.gather(forecast(city), forecast("Paris"))
    idea = await turn.llm(model, model="scripted", messages=[{"role": "user", "content": str(here)}])
    approval = await turn.wait("approve", question={"idea": idea["text"]}, timeout=3600)
    if not approval.is_ok:
        return {"idea": idea["text"], "booking": None}
    booking = await book_table(idea["pick"], people)
    await turn.sleep(0.05)  # durable: a re-drive sleeps only for what is left
    sent = await turn.call("notify", lambda: f"told {people} people", key="notify-guests")
    return {"booking": booking, "notified": sent, "paris": there["sky"]}


async def approve(url: str, session_id: str, answer: Resolution) -> None:
    """What a webhook or a UI does, from any process: find the turn's wait, resolve its key."""
    async with await open_host(url) as webhook:  # another host object on the same file
        while True:
            keys = await webhook.list_outstanding_await_event_keys(session_id)
            if keys:
                await webhook.resolve_await_event(keys[0], answer)
                return
            await asyncio.sleep(0.01)


async def parked(host: DurableEffectHost, session_id: str, worker: Worker) -> None:
    """Until the turn is suspended on its wait: waiting, and no task of the worker holds it."""
    while True:
        info = await host.get_turn(session_id, "evening-1")
        if info is not None and info.status is TurnStatus.WAITING and worker.active == 0:
            return
        await asyncio.sleep(0.01)


async def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/turns.db"
    evening = {"city": "Lyon", "people": 2}
    async with await open_host(url, max_turn_payload_bytes=1_000_000) as host:
        # 1. Run a turn in this process; meanwhile a human approves it from elsewhere.
        result, _ = await asyncio.gather(
            host.run_turn(plan_evening, session_id="alice", turn_id="evening-1", input=evening),
            approve(url, "alice", Resolution.ok("go")),
        )
        print("result:", result)
        print("calls:", sorted(CALLS.items()))  # book_table twice: one timeout, one retry

        # 2. Run it again (after a crash you would): the recorded result, nothing runs twice.
        CALLS.clear()
        again = await host.run_turn(plan_evening, session_id="alice", turn_id="evening-1", input=evening)
        print("again:", again == result, "calls:", sorted(CALLS.items()))

        # 3. The turn's record, and its journal by replay key.
        info = await host.get_turn("alice", "evening-1")
        assert info is not None
        print("record:", info.status, "attempts:", info.attempts)
        rows = await host.browser.list_effects(ExecutionScope.turn("alice", "evening-1").journal_key())
        for row in sorted(rows, key=lambda row: row.replay_key):
            print(f"  {row.status:<9} {row.replay_key}")

        async with Worker(host, turns=[plan_evening], suspend_after_s=0.2, poll_interval_s=0.1) as worker:
            # 4. Start a turn for a worker; it suspends on the wait and a resolve wakes it.
            handle = await host.start_turn(plan_evening, session_id="bob", turn_id="evening-1", input=evening)
            await parked(host, "bob", worker)
            print("bob: parked, suspended:", worker.suspended)
            await approve(url, "bob", Resolution.ok("go"))
            print("bob:", (await handle.result(timeout=10))["notified"])

            # 5. Cancel a turn: it ends cancelled; its wait resolves Cancelled.
            handle = await host.start_turn(
                plan_evening, session_id="carol", turn_id="evening-1", input=evening
            )
            await parked(host, "carol", worker)
            await host.cancel_turn("carol", "evening-1")
            try:
                await handle.result(timeout=10)
            except EffectHostError as error:
                print("carol:", error.code)

            # 6. A failure outlasts the retries; the API is fixed; resume runs that call once more.
            OUTAGE["failures"] = 3
            handle = await host.start_turn(
                plan_evening, session_id="dave", turn_id="evening-1", input=evening
            )
            await approve(url, "dave", Resolution.ok("go"))
            try:
                await handle.result(timeout=10)
            except EffectHostError as error:
                print("dave:", error.code, "-", error.message)
            handle = await host.resume_turn("dave", "evening-1")
            print("dave, resumed:", (await handle.result(timeout=10))["booking"]["ref"])
            rows = await host.browser.list_effects(ExecutionScope.turn("dave", "evening-1").journal_key())
            for row in sorted(rows, key=lambda row: row.replay_key):
                if row.effect_kind == "tool_call":  # the failed attempts stay, each under its key
                    print(f"  {row.status:<9} {row.replay_key}")


if __name__ == "__main__":
    asyncio.run(main())
