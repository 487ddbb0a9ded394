"""The workload the crash tests drive, in a child process (``python workload.py SPEC``) or in the
test process (re-drive). Every execution appends ``exec <turn> <key> <nonce>`` to an append-only
log with fsync *before* the executor returns, and every returned outcome appends ``done …`` — so
the test can count executions and compare outcomes across kills. Outcomes carry the nonce of the
execution that produced them, so "returned unchanged" is checkable exactly.

Kill points (``SPEC["kill"] = {"kind", "turn", "key"}``), each a SIGKILL of this process:
``after_claim`` (row claimed, executor not started), ``during_execute`` (executor logged, not
returned), ``after_execute`` (executor returned, finalize not started), ``mid_transaction``
(finalize's UPDATE has changed the row inside its write transaction, which has not committed —
a temporary trigger on the row calls back into this process, which dies there).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from typing import Any

from effecthost import (
    DurableEffectHost,
    DurableStep,
    EffectEnvelope,
    EffectKind,
    ExecutionScope,
    LocalExecutor,
    RuntimeInvocation,
    RuntimeScope,
    open_host,
)
from effecthost._private.journal.model import Claimed

SESSION = "crash-session"


def append_line(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def envelope(turn: int, key: int) -> EffectEnvelope:
    replay_key = f"k{key:03d}"
    invocation = RuntimeInvocation.effect(
        RuntimeScope(SESSION), f"t{turn}-{replay_key}", EffectKind.DURABLE_STEP, replay_key
    )
    return EffectEnvelope(invocation, DurableStep("crash-step", {"turn": turn, "key": key}))


def scope(turn: int) -> ExecutionScope:
    return ExecutionScope.turn(SESSION, f"t{turn}")


def _matches(kill: dict[str, Any] | None, kind: str, turn_key: str, replay_key: str) -> bool:
    return (
        kill is not None
        and kill["kind"] == kind
        and turn_key == scope(kill["turn"]).journal_key()
        and replay_key == f"k{kill['key']:03d}"
    )


def arm(host: DurableEffectHost, kill: dict[str, Any] | None) -> None:
    """Wrap the store so this process dies at the chosen point."""
    journal: Any = host.journal
    claim, finalize = journal.claim, journal.finalize

    async def claim_then_maybe_die(request: Any) -> Any:
        decision = await claim(request)
        if isinstance(decision, Claimed) and _matches(
            kill, "after_claim", request.scope_key, request.replay_key
        ):
            die()
        return decision

    async def finalize_or_die(fence: Any, *args: Any, **kwargs: Any) -> Any:
        if _matches(kill, "after_execute", fence.scope_key, fence.replay_key):
            die()
        return await finalize(fence, *args, **kwargs)

    def finalized_row(scope_key: str, replay_key: str) -> int:
        # Runs inside the finalize statement, after the row changed and before any commit (in an
        # implicit single-statement transaction and in a batched one alike).
        if _matches(kill, "mid_transaction", scope_key, replay_key):
            die()
        return 0

    journal.claim = claim_then_maybe_die
    journal.finalize = finalize_or_die
    if kill is not None and kill["kind"] == "mid_transaction":
        conn = journal.database.conn
        conn.create_function("eh_crash_finalized_row", 2, finalized_row)
        conn.execute(
            "CREATE TEMP TRIGGER eh_crash_mid_finalize AFTER UPDATE OF status ON main.effect_journal"
            " WHEN NEW.status <> 'in_progress'"
            " BEGIN SELECT eh_crash_finalized_row(NEW.scope_key, NEW.replay_key); END"
        )


async def drive(spec: dict[str, Any], host: DurableEffectHost | None = None) -> dict[str, Any]:
    """Drive every turn; returns {"t{turn}:{key}": outcome_json}."""
    own = host is None
    if host is None:
        host = await open_host(f"sqlite:///{spec['db']}", lease_ttl_s=spec["ttl_s"])
    kill = spec.get("kill")
    arm(host, kill)
    log = spec["log"]
    results: dict[str, Any] = {}

    def executor(turn: int) -> LocalExecutor:
        def run(value: Any) -> Any:
            nonce = secrets.token_hex(6)
            append_line(log, f"exec t{turn} k{value['key']:03d} {nonce} {os.getpid()}")
            if kill is not None and kill["kind"] == "during_execute" and (
                kill["turn"], kill["key"]
            ) == (turn, value["key"]):
                die()
            return {"turn": turn, "key": value["key"], "nonce": nonce}

        return LocalExecutor.durable_step(run)

    async def one_turn(turn: int) -> None:
        controller = host.scoped(scope(turn)).controller
        for key in range(spec["effects"]):
            outcome = await controller.execute_effect(envelope(turn, key), executor(turn))
            text = json.dumps(outcome.to_json(), sort_keys=True)
            results[f"t{turn}:k{key:03d}"] = text
            append_line(log, f"done t{turn} k{key:03d} {text}")

    if spec.get("ready"):
        print("ready", flush=True)
    try:
        if spec.get("concurrent"):
            await asyncio.gather(*(one_turn(t) for t in range(spec["turns"])))
        else:
            for turn in range(spec["turns"]):
                await one_turn(turn)
    finally:
        if own:
            await host.aclose()
    return results


if __name__ == "__main__":
    asyncio.run(drive(json.loads(sys.argv[1])))
