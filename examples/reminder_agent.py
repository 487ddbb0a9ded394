"""A reminder agent that sleeps for days: the model schedules a reminder, the turn sleeps durably (a
worker suspends it: no task, no memory while it sleeps), wakes when it is due, and the model writes
the reminder. A day lasts 0.2 s here.

python examples/reminder_agent.py
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from effecthost import Turn, TurnStatus, Worker, durable_turn, open_host
from effecthost.agents import (
    Agent,
    ModelRequest,
    ModelResponse,
    ScriptedModel,
    agent_tool,
    call,
    calls,
    reply,
)

SECONDS_PER_DAY = 0.2


@agent_tool
def schedule(days: int, note: str) -> dict[str, Any]:
    """Schedule a reminder.

    Args:
        days: in how many days
        note: what to remind of
    """
    return {"days": days, "note": note}


def model(request: ModelRequest) -> ModelResponse:
    last = request.messages[-1]
    if last["role"] == "user" and str(last["content"]).startswith("It is time"):
        return reply(f"Reminder: {str(last['content']).split(': ', 1)[1]}")
    if last["role"] == "user":
        return calls(call("schedule", {"days": 7, "note": "renew the passport"}, id="remind-1"))
    return reply("Done: I will remind you in 7 days.")


planner = Agent("planner", ScriptedModel(model), tools=[schedule])
writer = Agent("writer", ScriptedModel(model))


@durable_turn
async def reminder(turn: Turn, prompt: str) -> dict[str, Any]:
    planned = await planner.run(turn, prompt)
    scheduled = next(m for m in planned.messages if m["role"] == "assistant")["tool_calls"][0]["arguments"]
    await turn.sleep(
        scheduled["days"] * SECONDS_PER_DAY, name="until-due"
    )  # durable: a re-drive sleeps what is left
    written = await writer.run(turn, f"It is time: {scheduled['note']}")
    return {"planned": planned.output, "reminder": written.output}


async def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/reminders.db"
    async with (
        await open_host(url) as host,
        Worker(host, [reminder], suspend_after_s=0.1, poll_interval_s=0.05) as worker,
    ):
        handle = await host.start_turn(
            reminder, session_id="s", turn_id="t", input={"prompt": "remind me in a week"}
        )
        info = await host.get_turn("s", "t")
        while info is None or worker.suspended == 0:  # until the worker has let go of the turn
            await asyncio.sleep(0.02)
            info = await host.get_turn("s", "t")
        assert info is not None and info.status is TurnStatus.SLEEPING
        print(f"suspended: {info.status}, the worker drives {worker.active} turns")
        result = await handle.result(timeout=30)
        print("planned:", result["planned"])
        print("woke up:", result["reminder"])


if __name__ == "__main__":
    asyncio.run(main())
