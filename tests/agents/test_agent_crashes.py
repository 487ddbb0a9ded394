"""SIGKILL at every effect boundary of a multi-tool agent turn, on a SQLite file and PostgreSQL.

For each boundary k (before each effect, after each is recorded, inside each model request once the
provider answered, inside each tool once its side effect is done) a child process (forked from a
warm process, one per kill point) runs the turn through the official OpenAI SDK against a local
provider and SIGKILLs itself at k; this process then drives every killed turn to its end. The provider counts the requests it receives and the tools log
their runs: a model request or tool call that was recorded before the kill is never sent again,
one cut short is sent again at most once, and the final answer is always the same."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from effecthost import ExecutionScope

from . import crash_agent as ca
from .wire_servers import Provider, serve_provider

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agents.db'}"
    url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def provider() -> Iterator[tuple[Provider, str]]:
    provider = Provider(list(ca.SCRIPT))
    with serve_provider(provider) as url:
        yield provider, url


def sent(provider: Provider, turn_id: str) -> Counter[int]:
    """Requests the provider received for ``turn_id``, by conversation position."""
    counts: Counter[int] = Counter()
    for request in provider.requests:
        messages = request["body"]["messages"]
        if any(m["role"] == "user" and m["content"] == f"stock for {turn_id}" for m in messages):
            counts[sum(1 for m in messages if m["role"] == "assistant")] += 1
    return counts


def ran(log: Path, turn_id: str) -> Counter[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(line.split()[1] for line in lines if line.split()[0] == turn_id)


class Zygote:
    """A process with everything imported that forks one child per kill point."""

    def __init__(self, url: str, provider_url: str, log: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(ca.__file__)), url, provider_url, str(log)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n"

    def run(self, turn_id: str, kill_at: int) -> tuple[int, int]:
        """The child's exit code (-9: killed) and how many boundaries it passed."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{turn_id} {kill_at}\n")
        self.process.stdin.flush()
        _, code, passed = self.process.stdout.readline().split()
        return int(code), int(passed)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


async def recorded(url: str, turn_id: str) -> dict[str, str]:
    host = await ca.open_crash_host(url)
    async with host:
        rows = await host.browser.list_effects(ExecutionScope.turn(ca.SESSION, turn_id).journal_key())
    return {row.replay_key.split(":0:0:", 1)[1]: row.status for row in rows}


async def recover_all(url: str, provider_url: str, turn_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Drive every killed turn to its end from this process, all at once."""
    model, stock = ca.build(provider_url)
    try:
        async with await ca.open_crash_host(url) as host:
            results = await asyncio.gather(
                *(
                    host.run_turn(stock, session_id=ca.SESSION, turn_id=t, input={"prompt": f"stock for {t}"})
                    for t in turn_ids
                )
            )
    finally:
        await model.aclose()
    return dict(zip(turn_ids, results, strict=True))


async def test_a_kill_at_every_boundary_sends_nothing_recorded_twice(
    crash_url: str, provider: tuple[Provider, str], tmp_path: Path
) -> None:
    prov, provider_url = provider
    log = tmp_path / "tools.log"
    ca.configure(str(log))
    zygote = Zygote(crash_url, provider_url, log)
    try:
        code, boundaries = zygote.run("full", 0)
        assert code == 0
        # 6 effects, each with a boundary before and after, + 3 model answers + 3 tool side effects
        assert boundaries == 18
        assert sent(prov, "full") == Counter({0: 1, 1: 1, 2: 1})
        assert ran(log, "full") == Counter({"inventory-red": 1, "inventory-blue": 1, "reserve-blue": 1})
        # every kill point in its own turn; then this process recovers every turn at once (their
        # leases expire together)
        before: dict[str, dict[str, str]] = {}
        for k in range(1, boundaries + 1):
            turn_id = f"k{k:02d}"
            code, _ = zygote.run(turn_id, k)
            assert code == -9, (k, code)
            before[turn_id] = await recorded(crash_url, turn_id)
    finally:
        zygote.close()
    results = await recover_all(crash_url, provider_url, list(before))

    resent_somewhere = 0
    for turn_id, result in results.items():
        assert result["stop"] == "final_answer" and result["output"] == ca.ANSWER, (turn_id, result)
        requests = sent(prov, turn_id)
        tools = ran(log, turn_id)
        for effect_id, position in ca.REQUESTS.items():
            done = before[turn_id].get(f"llm_call:{effect_id}") == "completed"
            assert requests[position] == 1 if done else 1 <= requests[position] <= 2, (turn_id, effect_id, requests)
        for call_id in ca.TOOL_CALLS:
            name = {"inv_red": "inventory-red", "inv_blue": "inventory-blue", "res_blue": "reserve-blue"}[call_id]
            done = before[turn_id].get(f"tool_call:{call_id}") == "completed"
            assert tools[name] == 1 if done else 1 <= tools[name] <= 2, (turn_id, call_id, tools)
        resent_somewhere += sum(n - 1 for n in requests.values()) + sum(n - 1 for n in tools.values())
        after = await recorded(crash_url, turn_id)
        assert set(after.values()) == {"completed"}, (turn_id, after)
    # the kills inside a model request or a tool did cut work short, and it was sent again once
    assert resent_somewhere >= 6
