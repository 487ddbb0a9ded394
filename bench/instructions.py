"""CPU work per journaled effect, counted in instructions: a figure that a noisy machine cannot move.

Usage: python bench/instructions.py [--n 1000] [--backends memory sqlite-normal sqlite-full postgres]
       [--url postgresql://...]

Wall-clock figures on a shared virtual machine moved by 2x from one run to the next, so changes to
the hot path are measured here instead: ``valgrind --tool=callgrind`` counts the instructions of a
process that drives N first-run effects of one turn, and of the same process building the N
envelopes without driving them; the difference over N is the work per effect (Python, SQLite and
the client library; not the kernel, not the database server). Deterministic to ±0.2 % on SQLite
and memory; ±1 % on PostgreSQL, whose event-loop iterations vary with timing. Needs valgrind
(``apt-get install valgrind``); prints one JSON line per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = os.environ.get("EFFECTHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("memory", "sqlite-normal", "sqlite-full", "postgres")


async def child(backend: str, n: int, drive: bool, directory: str, url: str, api: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    from postgres_bench import _envelope, with_schema
    from sqlite_bench import envelope as sqlite_envelope

    from effecthost import ExecutionScope, LocalExecutor, open_host

    schema = f"eh_instr_{uuid.uuid4().hex[:8]}"
    if backend == "memory":
        target = "memory://instructions"
    elif backend.startswith("sqlite"):
        target = f"sqlite:///{directory}/instructions.db?synchronous={backend.split('-')[1]}"
    else:
        target = with_schema(url, schema)
    host = await open_host(target)
    # each backend's own benchmark envelope, so the figures describe what those benchmarks time
    build = _envelope if backend == "postgres" else sqlite_envelope
    envelopes = [build("instructions", i) for i in range(n)] if api == "raw" else []
    controller = host.scoped(ExecutionScope.turn("instructions", "t")).controller
    def step(value: Any) -> Any:  # as each benchmark's step: an int on SQLite, the input on PostgreSQL
        return value if backend == "postgres" else value["i"] + 1

    if api == "turn":
        # The same N first-run steps through the turn API: one turn of N ``turn.step`` calls, less
        # one turn of none (turn record, lease, driver), over N. The raw run's envelopes are built
        # in both, so the turn API's own envelope building is counted as its cost.
        from effecthost import Turn, durable_turn

        @durable_turn(name="instructions")
        async def steps(turn: Turn, count: int) -> None:
            for i in range(count):
                await turn.step("step", step, {"i": i})

        await host.run_turn(steps, session_id="instructions", turn_id="t", input={"count": n if drive else 0})
    elif drive:
        for envelope in envelopes:
            await controller.execute_effect(envelope, LocalExecutor.durable_step(step))
    await host.aclose()
    if backend == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def counted(backend: str, n: int, drive: bool, url: str, api: str = "raw") -> int:
    directory = tempfile.mkdtemp(prefix="effecthost-instr-")
    try:
        argv = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
            __file__, "--child", backend, "--n", str(n), "--dir", directory, "--url", url, "--api", api,
        ]
        if drive:
            argv.append("--drive")
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"valgrind run failed: {done.stderr[-1500:]}")
        return int(found.group(1))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument(
        "--api", nargs="+", choices=("raw", "turn", "empty"), default=["raw", "turn"],
        help="raw: controller.execute_effect; turn: turn.step inside a driven turn",
    )
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.n, args.drive, args.dir, args.url, args.api[0]))
        return
    if shutil.which("valgrind") is None:
        print(json.dumps({"bench": "instructions", "skipped": "valgrind is not installed"}))
        return
    for backend in args.backends:
        per_effect: dict[str, int] = {}
        for api in args.api:
            driven = counted(backend, args.n, True, args.url, api)
            built = counted(backend, args.n, False, args.url, api)
            per_effect[api] = round((driven - built) / args.n)
            line: dict[str, Any] = {
                "bench": "instructions", "backend": backend, "api": api, "n": args.n,
                "instructions_per_effect": per_effect[api],
            }
            if api == "raw":
                # What a caller of the raw boundary pays per effect: building its envelope (the
                # canonical JSON and hash are computed then) and driving it. The turn API builds
                # its envelopes itself, so this is the figure it compares with.
                empty = counted(backend, args.n, False, args.url, "empty")
                per_effect["raw_with_envelope"] = round((driven - empty) / args.n)
                line["instructions_per_effect_with_envelope"] = per_effect["raw_with_envelope"]
            print(json.dumps(line), flush=True)
        if "raw" in per_effect and "turn" in per_effect:
            turn = per_effect["turn"]
            print(json.dumps({
                "summary": "turn_api_overhead", "backend": backend,
                "turn_over_raw_pct": round(100 * (turn / per_effect["raw_with_envelope"] - 1), 1),
                "turn_over_raw_drive_only_pct": round(100 * (turn / per_effect["raw"] - 1), 1),
                "target_pct": 15,
            }), flush=True)


if __name__ == "__main__":
    main()
