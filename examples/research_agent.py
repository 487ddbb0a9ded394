"""A research agent that asks for three searches at once: they run concurrently, each journaled under
the model's call id, and their results go back to the model in the order it asked for them. Run
again, the turn replays: no search and no model request happens twice.

python examples/research_agent.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time

from effecthost import ExecutionScope, open_host
from effecthost.agents import Agent, ScriptedModel, agent_tool, call, calls, reply

SEARCHES: list[str] = []


@agent_tool
async def search(topic: str) -> str:
    """Search the web.

    Args:
        topic: what to search for
    """
    SEARCHES.append(topic)
    await asyncio.sleep({"durability": 0.3, "replay": 0.2, "approvals": 0.1}.get(topic, 0))
    return f"three articles about {topic}"


model = ScriptedModel(
    [
        calls(
            call("search", {"topic": "durability"}, id="s1"),
            call("search", {"topic": "replay"}, id="s2"),
            call("search", {"topic": "approvals"}, id="s3"),
            text="Searching three topics at once.",
        ),
        reply("Durable agents journal each effect, replay it on recovery and wait for approvals."),
    ]
)
agent = Agent("research", model, instructions="Research, then summarize.", tools=[search])
research = agent.as_turn()


async def main() -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/research.db"
    async with await open_host(url) as host:
        started = time.perf_counter()
        result = await host.run_turn(
            research, session_id="s", turn_id="t", input={"prompt": "durable agents?"}
        )
        took = time.perf_counter() - started
        print("answer:", result["output"])
        print(f"searches ran: {SEARCHES}, together in {took:.1f} s (0.6 s one after another)")
        rows = await host.browser.list_effects(ExecutionScope.turn("s", "t").journal_key())
        print("journal:", [row.replay_key.split(":0:0:")[1] for row in rows])
        SEARCHES.clear()
        again = await host.run_turn(
            research, session_id="s", turn_id="t", input={"prompt": "durable agents?"}
        )
        print(f"again: same answer {again == result}, searches {SEARCHES}, model requests {model.requests}")


if __name__ == "__main__":
    asyncio.run(main())
