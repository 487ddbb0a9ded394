"""Crash tests: real child processes on a SQLite file, killed with SIGKILL, then re-driven.

Invariants after every re-drive (see workload.py for the log format):
- every outcome a process was given back is what the journal still returns (returned unchanged);
- the execution whose outcome was recorded is the last one of its key: no executor ran after a
  finalize committed, and only the killed key ran twice (at-least-once is confined to the crash);
- in-progress rows left by a killed owner are taken over once their lease expires;
- ``PRAGMA integrity_check`` is ``ok`` and every effect has a completed row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from effecthost import open_host

from . import workload

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")
TTL_S = 0.3
# The re-driving host's own leases: long, so that a stall of this (pytest) process under a loaded
# CI machine, a GC pause or a slow fsync longer than 2/3 of a 0.3 s lease, cannot cost it a lease
# it holds. The killed owner's rows still carry 0.3 s leases, so taking them over stays quick.
REDRIVE_TTL_S = 5.0


def _spec(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "db": str(tmp_path / "crash.db"),
        "log": str(tmp_path / "executions.log"),
        "ttl_s": TTL_S,
        "turns": 3,
        "effects": 10,
    }
    spec.update(extra)
    return spec


async def _child(spec: dict[str, Any], kill_after_ready_s: float | None = None) -> int:
    """Run the workload in a fresh interpreter; optionally SIGKILL it some time after it is ready."""
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "workload.py"), json.dumps(spec), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    if kill_after_ready_s is not None:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)  # "ready": host open, turns start
        await asyncio.sleep(kill_after_ready_s)
        if proc.returncode is None:
            # os.kill, not proc.send_signal: on Python 3.11 send_signal first polls the child, and
            # a child that has just exited is then reaped there, so asyncio's watcher finds no
            # child to wait for and reports 255. Signalling a zombie is harmless.
            with contextlib.suppress(ProcessLookupError):  # it may have finished first
                os.kill(proc.pid, signal.SIGKILL)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()
    return proc.returncode


def _log(spec: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    execs: dict[str, list[str]] = defaultdict(list)
    dones: dict[str, set[str]] = defaultdict(set)
    if not os.path.exists(spec["log"]):
        return execs, dones
    for line in Path(spec["log"]).read_text().splitlines():
        kind, turn, key, rest = line.split(" ", 3)
        if kind == "exec":
            execs[f"{turn}:{key}"].append(rest.split(" ")[0])
        else:
            dones[f"{turn}:{key}"].add(rest)
    return execs, dones


async def _redrive_and_check(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Re-drive everything in this (new) process and check the invariants; returns executions."""
    clean = {k: v for k, v in spec.items() if k not in ("kill", "ready")}
    host = await open_host(f"sqlite:///{spec['db']}", lease_ttl_s=REDRIVE_TTL_S)
    try:
        final = await asyncio.wait_for(workload.drive(clean, host), 60)
        rows = await host.browser.list_effects(workload.scope(0).journal_key())
        assert rows and all(r.status == "completed" for r in rows)
    finally:
        await host.aclose()
    execs, dones = _log(spec)
    assert len(final) == spec["turns"] * spec["effects"]
    for name, text in final.items():
        assert dones[name] == {text}, f"{name}: an outcome changed across the crash"
        nonce = json.loads(text)["value"]["nonce"]
        assert execs[name] and execs[name][-1] == nonce, f"{name}: executor ran after finalize"
        assert execs[name].count(nonce) == 1
    conn = sqlite3.connect(spec["db"])
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT count(*) FROM effect_journal WHERE status = 'completed'")
        assert count.fetchone()[0] == spec["turns"] * spec["effects"]
        assert conn.execute("SELECT count(*) FROM effect_journal WHERE status != 'completed'").fetchone()[0] == 0
    finally:
        conn.close()
    return execs


KINDS = ["after_claim", "during_execute", "after_execute", "mid_transaction"]
# (turn, key, concurrent turns?) — first, middle and last effects, sequential and concurrent turns
POSITIONS = [(0, 0, False), (1, 4, False), (2, 9, False), (0, 5, True), (2, 2, True)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("turn", "key", "concurrent"), POSITIONS)
async def test_kill_at_chosen_point_then_redrive(
    tmp_path: Path, kind: str, turn: int, key: int, concurrent: bool
) -> None:
    """20 chosen kill points (4 kinds x 5 positions)."""
    spec = _spec(tmp_path, concurrent=concurrent, kill={"kind": kind, "turn": turn, "key": key})
    assert await _child(spec) == -signal.SIGKILL
    conn = sqlite3.connect(spec["db"])
    try:
        left = conn.execute(
            "SELECT status FROM effect_journal WHERE scope_key = ? AND replay_key = ?",
            (workload.scope(turn).journal_key(), f"k{key:03d}"),
        ).fetchone()
    finally:
        conn.close()
    assert left == ("in_progress",)  # the killed owner's claim is still there, lease running
    execs = await _redrive_and_check(spec)
    killed = f"t{turn}:k{key:03d}"
    expected_runs = 1 if kind == "after_claim" else 2  # the killed execution, then the takeover
    assert len(execs[killed]) == expected_runs
    others = [len(v) for name, v in execs.items() if name != killed]
    if concurrent:
        # Effects of the other turns that were in flight (one per turn at most) ran again too.
        assert all(n <= 2 for n in others) and sum(n == 2 for n in others) <= spec["turns"] - 1
    else:
        assert all(n == 1 for n in others)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_kill_chain_then_redrive(tmp_path: Path, seed: int) -> None:
    """Children killed at random instants, each re-driving what the last left (≥ 10 kills each):
    new turns are added every round so there is always work in flight when the signal lands."""
    rng = random.Random(seed)
    kills = 0
    rounds = 0
    spec = _spec(tmp_path, effects=12, concurrent=seed != 1, ready=True)
    while kills < 10:
        rounds += 1
        assert rounds <= 40, "random kills kept missing the workload"
        spec["turns"] = 2 + rounds
        returncode = await _child(spec, kill_after_ready_s=rng.uniform(0.0, 0.03))
        kills += returncode == -signal.SIGKILL
    await _redrive_and_check(spec)


async def test_two_processes_racing_on_the_same_keys_execute_each_once(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ttl_s=30.0, turns=2, effects=25, concurrent=True)
    codes = await asyncio.gather(_child(spec), _child(spec))
    assert codes == [0, 0]
    execs, dones = _log(spec)
    assert len(execs) == 50
    assert all(len(nonces) == 1 for nonces in execs.values())  # exactly once
    assert all(len(outcomes) == 1 for outcomes in dones.values())  # both saw the same outcome
