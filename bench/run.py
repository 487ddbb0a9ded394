"""Run every benchmark with one command (``make bench``) and print JSON lines, then a summary.

Runs, one after the other on the same machine (the box is small; peers never run concurrently):
raw SQLite commit calibration, the effecthost SQLite benchmark (bench/sqlite_bench.py), the
cross-process wake-up latency under load (bench/wake_bench.py), how alike refusals of forged and
revoked await-event keys are timed (bench/refusal_timing.py), and the
DBOS and LangGraph peer scripts from ../shared/bench/peers on SQLite files. The peers need a venv
with dbos and langgraph (default /tmp/peers, override with EFFECTHOST_PEERS_VENV); when it is
missing it is created with pip. A peer that truly cannot be installed or run is reported with a
``{"skipped": ...}`` line instead of numbers.

Then the PostgreSQL benchmark (bench/postgres_bench.py: 1, 2 and 4 worker processes, DBOS and
LangGraph on the same server), unless ``--no-postgres``. Last, bench/head_to_head.py: one
sequential turn on effecthost and on DBOS back to back, in alternating rounds, for each backend —
the per-effect ratio with both sides measured in the same minute, and what an fsync and a server
round trip cost at that moment.

Then pydantic-ai against its DBOS durability, the OpenTelemetry interceptor's instruction count
(with valgrind), and Restate and Temporal each against the plain engine, unless ``--no-engines``.

Usage: python bench/run.py [--quick] [--no-peers] [--no-postgres] [--no-engines]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("EFFECTHOST_PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
PEERS_VENV = Path(os.environ.get("EFFECTHOST_PEERS_VENV", "/tmp/peers"))
PEER_PACKAGES = ["dbos", "langgraph", "langgraph-checkpoint-sqlite", "langgraph-checkpoint-postgres"]


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def run_lines(cmd: list[str], timeout: float, **kw: Any) -> list[dict[str, Any]]:
    """Run a command, echo its JSON lines as they come, return them parsed."""
    out: list[dict[str, Any]] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            print(line, flush=True)
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[1]} exited with {proc.returncode}")
    return out


def peers_python() -> Path | None:
    python = PEERS_VENV / "bin" / "python"
    imports = "import dbos, langgraph, langgraph.checkpoint.sqlite, langgraph.checkpoint.postgres"
    check = [str(python), "-c", imports]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    say(note="peer venv missing or incomplete; creating it with pip", venv=str(PEERS_VENV))
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True, timeout=900
        )
    except (subprocess.SubprocessError, OSError) as exc:
        say(skipped="dbos, langgraph", reason=f"cannot install the peer venv: {exc}")
        return None
    if subprocess.run(check, capture_output=True).returncode != 0:
        say(skipped="dbos, langgraph", reason="peer packages do not import after install")
        return None
    return python


def peer(name: str, cmd: list[str]) -> list[dict[str, Any]]:
    try:
        return run_lines(cmd, timeout=1800, cwd=str(PEERS))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        say(peer=name, skipped=True, reason=str(exc))
        return []


def pick(lines: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for line in lines:
        if all(line.get(k) == v for k, v in match.items()):
            return line
    return None


def summary(ours: list[dict[str, Any]], dbos: list[dict[str, Any]], lg: list[dict[str, Any]]) -> None:
    dbos_step = pick(dbos, bench="1wf_x_nsteps")
    lg_step = pick(lg, bench="1wf_x_nsteps_task")
    for level in ("full", "normal"):
        seq = pick(ours, bench="first_run_sequential", synchronous=level)
        conc = pick(ours, bench="first_run_concurrent", synchronous=level)
        rep = pick(ours, bench="replay", synchronous=level)
        if seq is None:
            continue
        row: dict[str, Any] = {
            "summary": "sqlite_vs_peers",
            "synchronous": level,
            "effecthost_us_per_effect_sequential": seq["us_per_effect"],
            "effecthost_us_per_effect_concurrent": conc["us_per_effect"] if conc else None,
            "raw_commit_us": seq["raw_commit_us"],
            "ratio_to_two_raw_commits": seq["ratio_to_two_raw_commits"],
            "replay_effects_per_s": rep["effects_per_s"] if rep else None,
        }
        if dbos_step:
            row["dbos_us_per_step"] = dbos_step["us_per_step"]
            row["x_cheaper_than_dbos_sequential"] = round(dbos_step["us_per_step"] / seq["us_per_effect"], 1)
            if conc:
                row["x_cheaper_than_dbos_concurrent"] = round(
                    dbos_step["us_per_step"] / conc["us_per_effect"], 1
                )
        if lg_step:
            row["langgraph_us_per_step"] = lg_step["us_per_step"]
            row["x_cheaper_than_langgraph_sequential"] = round(
                lg_step["us_per_step"] / seq["us_per_effect"], 1
            )
        say(**row)
    for bench in ("await_wake_same_process", "await_wake_other_process"):
        line = pick(ours, bench=bench)
        if line:
            say(summary=bench, median_us=line["median_us"], p99_us=line["p99_us"])


def later_benches(quick: bool, no_engines: bool) -> list[tuple[str, list[str]]]:
    """pydantic-ai (EffectHostDurability beside pydantic-ai's DBOSDurability, when its scratch venv
    exists), the OpenTelemetry interceptor's instructions (with valgrind), and the engines, each
    beside the plain engine on one server it starts (Restate's from ``make install``, Temporal's
    dev server from the venv)."""
    bench = ROOT / "bench"
    out = [
        ("pydantic_ai", [sys.executable, str(bench / "pydantic_ai_bench.py"),
                         "--runs", "50" if quick else "200", "--rounds", "1" if quick else "3"]),
    ]  # fmt: skip
    if shutil.which("valgrind"):
        out.append(("otel_instructions", [sys.executable, str(bench / "otel_instructions.py"),
                                          "--n", "300" if quick else "1000"]))  # fmt: skip
    else:
        say(bench="otel_instructions", skipped=True, reason="valgrind is not installed")
    if not no_engines:
        rounds = "2" if quick else "5"
        out += [
            ("restate", [sys.executable, str(bench / "restate_bench.py"), "--rounds", rounds,
                         "--n", "100" if quick else "200", "--replay-n", "300" if quick else "1000"]),
            ("temporal", [sys.executable, str(bench / "temporal_bench.py"), "--rounds", rounds,
                          "--n", "50" if quick else "100"]),
            ("engine_listing", [sys.executable, str(bench / "engine_listing_bench.py"), "--rounds", rounds,
                                "--turns", "100" if quick else "300"]),
        ]  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer steps and runs")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL benchmark")
    parser.add_argument("--no-engines", action="store_true", help="skip the Restate and Temporal benchmarks")
    args = parser.parse_args()
    n, runs = ("300", "1") if args.quick else ("1000", "3")
    work = Path(tempfile.mkdtemp(prefix="effecthost-bench-run-"))
    try:
        say(note="one run on this machine; peers run one at a time", cpus=os.cpu_count(), dir=str(work))
        ours = run_lines(
            [sys.executable, str(ROOT / "bench" / "sqlite_bench.py"), "--dir", str(work / "ours"),
             "--n", n, "--runs", runs, "--wake", "50" if args.quick else "200"],
            timeout=1800,
        )
        wake = [sys.executable, str(ROOT / "bench" / "wake_bench.py"), "--dir", str(work / "wake")]
        ours += run_lines(wake + (["--quick"] if args.quick else []), timeout=1800)
        # Refused keys must cost the same whatever made them refused (docs/http-api.md).
        refusals = [sys.executable, str(ROOT / "bench" / "refusal_timing.py"), "--calls",
                    "300" if args.quick else "1000", "--backends", "memory,sqlite"]
        ours += run_lines(refusals, timeout=1800)
        dbos: list[dict[str, Any]] = []
        lg: list[dict[str, Any]] = []
        python = None if args.no_peers else peers_python()
        if python is not None:
            (work / "peers").mkdir()
            peer("calibrate", [str(python), "calibrate_sqlite.py", str(work / "peers" / "cal.sqlite"), n])
            dbos = peer("dbos", [str(python), "bench_dbos.py", "--db",
                                 f"sqlite:///{work / 'peers' / 'dbos.sqlite'}", "--n", n, "--runs", runs])
            lg = peer("langgraph", [str(python), "bench_langgraph.py", "--db",
                                    str(work / "peers" / "lg.sqlite"), "--n", n, "--runs", runs])
        summary(ours, dbos, lg)
        if not args.no_postgres:
            flags = [f for f, on in (("--quick", args.quick), ("--no-peers", args.no_peers)) if on]
            try:
                run_lines([sys.executable, str(ROOT / "bench" / "postgres_bench.py"), *flags], timeout=3600)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                say(bench="postgres", skipped=True, reason=str(exc))
        # Durable turns: three-step turns vs DBOS workflows, suspended turns, crash recovery.
        turns = [sys.executable, str(ROOT / "bench" / "turns_bench.py"), "--dir", str(work / "turns"),
                 "--turns", "300" if args.quick else "1000", "--suspended", "1000" if args.quick else "10000"]
        (work / "turns").mkdir()
        if python is not None:
            os.environ.setdefault("EFFECTHOST_PEERS_PYTHON", str(python))
        try:
            run_lines(turns, timeout=3600)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            say(bench="turns", skipped=True, reason=str(exc))
        if python is not None:
            # The ratio that matters, measured back to back in alternating rounds (see its docstring).
            h2h = [sys.executable, str(ROOT / "bench" / "head_to_head.py"), "--n", n,
                   "--rounds", "1" if args.quick else "3"]
            try:
                run_lines(h2h + (["--no-postgres"] if args.no_postgres else []), timeout=3600)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                say(bench="head_to_head", skipped=True, reason=str(exc))
        # Durable agents: a model request + a tool call per step, against the loop without a host
        # and pydantic-ai's DBOSAgent (when its scratch venv exists; see bench/agents_bench.py).
        agents = [sys.executable, str(ROOT / "bench" / "agents_bench.py"),
                  "--rounds", "1" if args.quick else "3"]  # fmt: skip
        try:
            run_lines(agents, timeout=3600)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            say(bench="agents", skipped=True, reason=str(exc))
        for name, cmd in later_benches(args.quick, args.no_engines):
            try:
                run_lines(cmd, timeout=3600)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                say(bench=name, skipped=True, reason=str(exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
