"""A worker process for the turn crash tests, and the harness that spawns, kills and checks it.

As a script: ``python turn_worker.py URL LOG MODE CONCURRENCY SLEEP_MIN SLEEP_MAX`` opens a host on
URL with a 1 s lease, prints ``ready`` (warm, nothing claimed), waits for a line on stdin, then
runs ``Worker(host, [crashy], poll_interval_s=0.05, concurrency=CONCURRENCY)``. MODE ``run``
drives forever (the test SIGKILLs it); ``drain`` exits 0 once no turn of the session is live any
more (the clean last worker). Each step sleeps SLEEP_MIN..SLEEP_MAX seconds after its effect.

Every step execution appends ``{turn_id} {step} {pid} {nonce}`` to the LOG file (one ``write`` in
append mode, then fsync) *before* it sleeps a few ms and returns ``{"value", "run": nonce}``, so a
SIGKILL lands inside steps too. The turn returns the values and, per step, the nonce of the run
whose outcome the journal kept: that run must be the last line of its (turn, step) in the log.
Each drive that reaches the turn's return appends ``{turn_id} _end_ {pid} {attempt}``.

As a module (the tests): :func:`spawn`, :func:`kill`, :func:`read_log`, :func:`check` and the
kill loop :func:`kill_loop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import secrets
import select
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from effecthost import DurableEffectHost, ExecutionScope, Turn, Worker, durable_turn, open_host

SESSION = "crash-turns"
STEPS = ("reserve", "charge", "ship", "notify")
END = "_end_"  # the log line a drive writes when the turn function returns: its attempt number
LEASE_TTL_S = 1.0
LIVE = ("pending", "running", "waiting", "sleeping")
HERE = Path(__file__).resolve().parent
SRC = str(HERE.parents[1] / "src")


def step_value(acc: int, index: int) -> int:
    return acc * 3 + index + 1


def expected_values(n: int) -> dict[str, int]:
    values, acc = {}, n
    for index, name in enumerate(STEPS):
        acc = step_value(acc, index)
        values[name] = acc
    return values


# -- the worker process ---------------------------------------------------------------------------

_LOG_PATH = ""
_STEP_SLEEP_S = (0.0, 0.01)


def _append(line: str) -> None:
    fd = os.open(_LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def _effect(turn_id: str, name: str, index: int, acc: int) -> dict[str, Any]:
    nonce = secrets.token_hex(6)
    _append(f"{turn_id} {name} {os.getpid()} {nonce}")
    await asyncio.sleep(random.uniform(*_STEP_SLEEP_S))  # a kill may land between effect and finalize
    return {"value": step_value(acc, index), "run": nonce}


@durable_turn
async def crashy(turn: Turn, n: int) -> dict[str, Any]:
    values: dict[str, int] = {}
    runs: dict[str, str] = {}
    acc = n
    for index, name in enumerate(STEPS):
        out = await turn.step(name, _effect, turn.turn_id, name, index, acc)
        acc = out["value"]
        values[name] = acc
        runs[name] = out["run"]
    # Not a step: written by every drive that gets this far (replaying all four steps).
    _append(f"{turn.turn_id} {END} {os.getpid()} {turn.attempt}")
    return {"values": values, "runs": runs}


async def _live_turns(host: DurableEffectHost) -> int:
    count = 0
    for status in LIVE:
        count += len(await host.list_turns(session_id=SESSION, status=status, limit=1000))
    return count


async def _main(url: str, mode: str, concurrency: int) -> None:
    async with await open_host(url, lease_ttl_s=LEASE_TTL_S) as host:
        # Warm: host open, nothing claimed. The harness says "go" when this process takes a slot,
        # so a slot is refilled at once after a kill (a fresh interpreter takes ~0.3 s to here).
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        worker = Worker(host, [crashy], poll_interval_s=0.05, concurrency=concurrency)
        worker.start()
        try:
            while True:
                await asyncio.sleep(0.1)
                if mode == "drain" and worker.active == 0 and await _live_turns(host) == 0:
                    return
        finally:
            await worker.stop()


def main() -> None:
    global _LOG_PATH, _STEP_SLEEP_S
    url, _LOG_PATH, mode, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    _STEP_SLEEP_S = (float(sys.argv[5]), float(sys.argv[6]))
    assert mode in ("run", "drain"), mode
    asyncio.run(_main(url, mode, concurrency))


# -- the harness (the test process) ---------------------------------------------------------------


@dataclasses.dataclass
class Child:
    proc: subprocess.Popen[bytes]
    err_path: Path
    spawned_at: float
    ready_at: float | None = None
    go_at: float | None = None
    kill_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll_ready(self) -> bool:
        """Non-blocking: has it printed ``ready`` yet?"""
        if self.ready_at is not None:
            return True
        out: IO[bytes] | None = self.proc.stdout
        assert out is not None
        readable, _, _ = select.select([out], [], [], 0)
        if readable:
            line = out.readline()
            if line.strip() == b"ready":
                self.ready_at = time.monotonic()
                return True
        return False

    def go(self) -> None:
        """Start its Worker (it claims turns from now on)."""
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"go\n")
        stdin.flush()
        self.go_at = time.monotonic()

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"worker {self.pid} exited by itself ({self.proc.returncode}):\n{self.stderr_tail()}"
            )
        if self.ready_at is None and time.monotonic() - self.spawned_at > 30:
            raise AssertionError(f"worker {self.pid} never got ready in 30 s:\n{self.stderr_tail()}")

    def stderr_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.err_path.read_text(errors="replace")[-chars:]
        return ""


def spawn(
    url: str, log: Path, mode: str, concurrency: int, workdir: Path, step_sleep_s: tuple[float, float]
) -> Child:
    err_path = workdir / f"worker-{time.monotonic_ns()}.err"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "turn_worker.py"),
                url,
                str(log),
                mode,
                str(concurrency),
                *map(str, step_sleep_s),
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.PIPE,
            env=env,
        )
    return Child(proc, err_path, time.monotonic())


def kill(child: Child) -> None:
    """SIGKILL by PID and reap (harmless when it already exited)."""
    if child.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.proc.wait(timeout=10)
    for pipe in (child.proc.stdout, child.proc.stdin):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def read_log(log: Path) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(turn id, step or END) -> [(pid, nonce or attempt)] in execution order."""
    runs: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    if log.exists():
        for line in log.read_text().splitlines():
            turn_id, name, pid, nonce = line.split(" ")
            runs[(turn_id, name)].append((int(pid), nonce))
    return runs


@dataclasses.dataclass
class Stats:
    kills: int = 0  # every SIGKILL of a driving worker
    kill_points: int = 0  # SIGKILLs of a ready worker while some turn was still live
    killed_pids: set[int] = dataclasses.field(default_factory=set)
    spawned: int = 0
    max_concurrent: int = 0
    early_waves: int = 0
    ready_s: list[float] = dataclasses.field(default_factory=list)  # spawn to ready, per worker
    loop_s: float = 0.0

    def summary(self) -> str:
        return (
            f"kills={self.kills} kill_points={self.kill_points} spawned={self.spawned}"
            f" max_concurrent={self.max_concurrent} early_waves={self.early_waves} loop_s={self.loop_s:.1f}"
            f" ready_s(mean/max)={sum(self.ready_s) / max(1, len(self.ready_s)):.2f}/{max(self.ready_s, default=0):.2f}"
        )


async def live_turns(host: DurableEffectHost) -> list[str]:
    """The live (not ended) turns, as ``turn_id:status``."""
    live: list[str] = []
    for status in LIVE:
        live += [
            f"{t.turn_id}:{t.status}"
            for t in await host.list_turns(session_id=SESSION, status=status, limit=1000)
        ]
    return live


async def kill_loop(
    host: DurableEffectHost,
    url: str,
    log: Path,
    workdir: Path,
    *,
    rng: random.Random,
    turn_inputs: dict[str, int],
    waves: int,
    kills_per_wave: int,
    min_kill_points: int,
    lifetime_s: tuple[float, float],
    slots: int,
    slots_at_times: int,
    concurrency: int,
    step_sleep_s: tuple[float, float],
    soft_deadline_s: float,
    children: list[Child],
) -> Stats:
    """Start the turns in ``waves`` (wave k once ``k * kills_per_wave`` kill points were made, or
    earlier when every started turn has ended, so that kills land on live work whatever the
    machine's speed), and keep ``slots`` worker processes driving (``slots_at_times`` during
    alternate phases), each SIGKILLed a random ``lifetime_s`` after it started; a warm spare per
    slot takes over at once. Ends when every wave started, ``min_kill_points`` were made and every
    turn ended, or at ``soft_deadline_s`` (the drain worker finishes then). Every child is appended
    to ``children`` (the caller kills them all in a finally)."""
    stats = Stats()
    ids = list(turn_inputs)
    per_wave = -(-len(ids) // waves)
    started = wave = 0
    live: list[str] = ["?"]
    last_look = 0.0
    begin = time.monotonic()
    width = max(slots, slots_at_times)
    running: list[Child | None] = [None] * width
    spares: list[Child | None] = [None] * width

    def new_child() -> Child:
        child = spawn(url, log, "run", concurrency, workdir, step_sleep_s)
        children.append(child)
        stats.spawned += 1
        return child

    # The first workers start together, so that they do run side by side at least once.
    first = [new_child() for _ in range(max(slots, slots_at_times))]
    while not all(c.poll_ready() for c in first):
        for c in first:
            c.check_alive()
        await asyncio.sleep(0.01)
    spares[: len(first)] = first
    while True:
        now = time.monotonic()
        wave = max(wave, min(waves, 1 + stats.kill_points // kills_per_wave))
        if not live and wave * per_wave <= started < len(ids):
            wave += 1  # every started turn ended before its quota of kills: no idle kills
            stats.early_waves += 1
        while started < min(len(ids), wave * per_wave):
            turn_id = ids[started]
            await host.start_turn(
                crashy, session_id=SESSION, turn_id=turn_id, input={"n": turn_inputs[turn_id]}
            )
            started += 1
            live = ["?"]
        if now - last_look > 0.1:
            live = await live_turns(host)
            last_look = now
        if started == len(ids) and not live and stats.kill_points >= min_kill_points:
            break
        if now - begin > soft_deadline_s:
            break
        # phases of 12 kills: the first 8 with ``slots_at_times`` workers, the next 4 with ``slots``
        wanted = slots_at_times if stats.kills % 12 < 8 else slots
        for i in range(width):
            spare, child = spares[i], running[i]
            if spare is None and i < wanted:
                spares[i] = spare = new_child()
            if spare is not None:
                spare.check_alive()
                spare.poll_ready()
            if child is None:
                if spare is not None and spare.ready_at is not None:
                    stats.ready_s.append(spare.ready_at - spare.spawned_at)
                    spare.go()
                    assert spare.go_at is not None
                    spare.kill_at = spare.go_at + rng.uniform(*lifetime_s)
                    running[i], spares[i] = spare, None
                continue
            child.check_alive()
            assert child.kill_at is not None
            if now >= child.kill_at:
                kill(child)
                stats.kills += 1
                stats.killed_pids.add(child.pid)
                if live:  # the last look (at most 0.1 s old) saw live turns
                    stats.kill_points += 1
                running[i] = None
        stats.max_concurrent = max(stats.max_concurrent, sum(c is not None for c in running))
        await asyncio.sleep(0.005)
    for turn_id in ids[started:]:  # the soft deadline came first: the drain worker runs these
        await host.start_turn(crashy, session_id=SESSION, turn_id=turn_id, input={"n": turn_inputs[turn_id]})
    for group in (running, spares):
        for i, child in enumerate(group):
            if child is not None:
                kill(child)  # a spare never claimed anything; a driver may have
                stats.killed_pids.add(child.pid)
                stats.kills += group is running
                group[i] = None
    stats.loop_s = time.monotonic() - begin
    return stats


async def drain(
    host: DurableEffectHost, url: str, log: Path, workdir: Path, timeout_s: float, children: list[Child]
) -> Child:
    """One clean worker that runs until no turn is live, then exits 0 by itself."""
    child = spawn(url, log, "drain", 100, workdir, (0.0, 0.002))
    children.append(child)
    while not child.poll_ready():
        child.check_alive()
        await asyncio.sleep(0.01)
    child.go()
    deadline = time.monotonic() + timeout_s
    while child.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.05)
    if child.proc.poll() is None:
        live = await live_turns(host)
        kill(child)
        raise AssertionError(
            f"the drain worker did not finish in {timeout_s} s; live turns ({len(live)}): {live}\n"
            f"{child.stderr_tail()}"
        )
    assert child.proc.returncode == 0, (
        f"drain worker failed ({child.proc.returncode}):\n{child.stderr_tail()}"
    )
    return child


async def check(
    host: DurableEffectHost, log: Path, turn_inputs: dict[str, int], stats: Stats, concurrency: int
) -> dict[str, int]:
    """The invariants, once every process is gone. Returns counts for the report."""
    live = await live_turns(host)
    assert not live, f"turns still live after the drain ({len(live)}): {live}"
    runs = read_log(log)
    problems: list[str] = []
    extra_runs = 0
    extras_by_pid: dict[int, int] = defaultdict(int)
    cut_short: dict[tuple[int, str], list[str]] = defaultdict(list)
    max_attempts = 0
    repeated_ends = sum(len(v) - 1 for (_, name), v in runs.items() if name == END)
    for turn_id, n in turn_inputs.items():
        info = await host.get_turn(SESSION, turn_id)
        if info is None:
            problems.append(f"{turn_id}: no record")
            continue
        if info.status != "completed":
            problems.append(f"{turn_id}: {info.status} (error {info.error}), not completed")
            continue
        result = info.result
        if result["values"] != expected_values(n):
            problems.append(f"{turn_id}: values {result['values']} != {expected_values(n)}")
        pids = set()
        for name in STEPS:
            lines = runs.get((turn_id, name), [])
            pids |= {pid for pid, _ in lines}
            if not lines:
                problems.append(f"{turn_id}/{name}: never ran, yet the turn completed")
                continue
            # The run whose outcome the journal kept (and the turn replayed) is the last one: no
            # step ran again once its effect was finalized.
            if lines[-1][1] != result["runs"][name]:
                kept = [i for i, (_, nonce) in enumerate(lines) if nonce == result["runs"][name]]
                problems.append(
                    f"{turn_id}/{name}: ran again after its outcome was finalized: runs {lines},"
                    f" the recorded one is #{kept}"
                )
            # Every run before the last was cut short by a SIGKILL of its process.
            for pid, nonce in lines[:-1]:
                extra_runs += 1
                extras_by_pid[pid] += 1
                cut_short[(pid, turn_id)].append(name)
                if pid not in stats.killed_pids:
                    problems.append(
                        f"{turn_id}/{name}: run {nonce} by pid {pid}, which was never killed, was not"
                        f" the last one (a live process lost a step it had run): runs {lines}"
                    )
        # Each process that ran one of its steps claimed the turn first.
        if info.attempts < max(1, len(pids)):
            problems.append(f"{turn_id}: attempts {info.attempts} < {len(pids)} processes that drove it")
        # Ended once: the drive that recorded the end is the last that reached the return (no drive
        # after the completed record), and every earlier one was killed before it could record it.
        ends = runs.get((turn_id, END), [])
        if not ends:
            problems.append(f"{turn_id}: completed, yet no drive reached its return")
        else:
            if int(ends[-1][1]) != info.attempts:
                problems.append(
                    f"{turn_id}: the last drive to return was attempt {ends[-1][1]}, the record says"
                    f" {info.attempts} attempts (ends {ends})"
                )
            for pid, attempt in ends[:-1]:
                if pid not in stats.killed_pids:
                    problems.append(
                        f"{turn_id}: attempt {attempt} by pid {pid} returned and was never killed, yet"
                        f" the turn was driven again (ends {ends})"
                    )
        max_attempts = max(max_attempts, info.attempts)
        rows = await host.browser.list_effects(ExecutionScope.turn(SESSION, turn_id).journal_key())
        bad = [(r.replay_key, r.status) for r in rows if r.status != "completed"]
        if bad or len(rows) != len(STEPS):
            problems.append(f"{turn_id}: journal rows {[(r.replay_key, r.status) for r in rows]}")
    # A killed process cut short at most one step per turn it was driving (its steps run in order).
    for (pid, turn_id), names in cut_short.items():
        if len(names) > 1:
            problems.append(f"{turn_id}: pid {pid} ran {names} without finalizing any of them")
    for pid, count in extras_by_pid.items():
        if count > concurrency:
            problems.append(f"pid {pid} left {count} cut-short steps, more than its {concurrency} turns")
    if extra_runs > stats.kills * concurrency:
        problems.append(f"{extra_runs} repeated step runs for {stats.kills} kills x {concurrency} turns")
    assert not problems, f"{len(problems)} problems ({stats.summary()}):\n" + "\n".join(problems[:40])
    landed = len({pid for lines in runs.values() for pid, _ in lines} & stats.killed_pids)
    return {
        "extra_runs": extra_runs,
        "repeated_ends": repeated_ends,
        "kills_that_ran_steps": landed,
        "max_attempts": max_attempts,
    }


if __name__ == "__main__":
    main()
