"""A worker process driving pydantic-ai runs as turns, for the SIGKILL tests; and its harness.

As a script: ``python agent_worker.py URL LOG MODE`` opens a host on URL (lease 1 s), prints
``ready``, waits for a line on stdin, then runs a ``Worker`` for :func:`agent_turn`. MODE ``run``
drives until it is killed; ``drain`` exits 0 once no turn of the session is live.

The agent's model (a ``FunctionModel``) and its tool append ``{turn} {effect} {pid} {nonce}`` to
LOG (append + fsync) *before* they sleep a few ms and answer with their nonce, so a SIGKILL lands
inside model requests and tool calls too. Effects are ``model#1..3`` and the model's tool-call ids
``call-1..3`` (``call-2`` and ``call-3`` run in parallel). The turn returns, per effect, the nonce
of the execution whose outcome the run used: with a journal, that is the last execution of that
effect in the log (nothing ran again once its outcome was recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import RunContext

from effecthost import DurableEffectHost, Turn, Worker, current_turn, durable_turn, open_host
from effecthost.integrations.pydantic_ai import EffectHostDurability

SESSION = "pydai-crash"
LEASE_TTL_S = 1.0
LIVE = ("pending", "running", "waiting", "sleeping")
VALUES = {"a": 2, "b": 3, "c": 5}
HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
_LOG = ""


def _append(effect: str) -> str:
    nonce = secrets.token_hex(6)
    line = f"{current_turn().turn_id} {effect} {os.getpid()} {nonce}\n"
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return nonce


async def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    step = sum(1 for m in messages if m.kind == "response") + 1
    nonce = _append(f"model#{step}")
    await asyncio.sleep(random.uniform(0.05, 0.15))  # a kill may land between the call and its record
    if step == 1:
        return ModelResponse(parts=[ToolCallPart("fetch", {"item": "a", "by": nonce}, tool_call_id="call-1")])
    if step == 2:
        return ModelResponse(
            parts=[
                ToolCallPart("fetch", {"item": "b", "by": nonce}, tool_call_id="call-2"),
                ToolCallPart("fetch", {"item": "c", "by": nonce}, tool_call_id="call-3"),
            ]
        )
    total = sum(
        int(str(part.content).split(":")[1])
        for m in messages
        for part in m.parts
        if isinstance(part, ToolReturnPart)
    )
    return ModelResponse(parts=[TextPart(f"total={total} by={nonce}")])


agent = Agent(FunctionModel(model), name="crashy_agent", capabilities=[EffectHostDurability()])


@agent.tool
async def fetch(ctx: RunContext[None], item: str, by: str) -> str:
    nonce = _append(str(ctx.tool_call_id))
    await asyncio.sleep(random.uniform(0.05, 0.15))
    return f"{item}:{VALUES[item]}:{nonce}"


@durable_turn(name="pydai-crashy")
async def agent_turn(turn: Turn, prompt: str) -> dict[str, Any]:
    result = await agent.run(prompt)
    kept: dict[str, str] = {}
    step = 0
    for message in result.all_messages():
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                kept[part.tool_call_id] = str(part.content).split(":")[2]
        if isinstance(message, ModelResponse):
            step += 1
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    kept[f"model#{step}"] = part.args_as_dict()["by"]
                elif isinstance(part, TextPart):
                    kept[f"model#{step}"] = part.content.split("by=")[1]
    output = result.output
    return {"output": re.sub(r" by=\w+", "", output), "kept": kept}


async def _live(host: DurableEffectHost) -> int:
    count = 0
    for status in LIVE:
        count += len(await host.list_turns(session_id=SESSION, status=status, limit=1000))
    return count


async def _main(url: str, mode: str) -> None:
    async with await open_host(url, lease_ttl_s=LEASE_TTL_S) as host:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        async with Worker(host, [agent_turn], poll_interval_s=0.05, concurrency=10) as worker:
            while True:
                await asyncio.sleep(0.1)
                if mode == "drain" and worker.active == 0 and await _live(host) == 0:
                    return


# -- the harness ----------------------------------------------------------------------------------


class Child:
    def __init__(
        self, url: str, log: Path, mode: str, workdir: Path, script: str = "agent_worker.py"
    ) -> None:
        self.err_path = workdir / f"worker-{time.monotonic_ns()}.err"
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
        )
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / script), url, str(log), mode],
                stdout=subprocess.PIPE,
                stdin=subprocess.PIPE,
                stderr=err,
                env=env,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        out: IO[bytes] | None = self.proc.stdout
        assert out is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.err_path.read_text()[-3000:]}")
            import select

            readable, _, _ = select.select([out], [], [], 0.05)
            if readable and out.readline().strip() == b"ready":
                return
        raise AssertionError("worker never got ready")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stdin):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def stderr(self) -> str:
        with contextlib.suppress(OSError):
            return self.err_path.read_text(errors="replace")[-3000:]
        return ""


def read_log(log: Path) -> dict[tuple[str, str], list[str]]:
    """(turn id, effect) -> the nonces of its executions, in order."""
    runs: dict[tuple[str, str], list[str]] = defaultdict(list)
    if log.exists():
        for line in log.read_text().splitlines():
            turn_id, effect, _pid, nonce = line.split(" ")
            runs[(turn_id, effect)].append(nonce)
    return runs


if __name__ == "__main__":
    _LOG = sys.argv[2]
    asyncio.run(_main(sys.argv[1], sys.argv[3]))
