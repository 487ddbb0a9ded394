"""effecthost against DBOS, one sequential turn each, in alternating rounds: the per-effect ratio.

Usage: python bench/head_to_head.py [--rounds 3] [--n 1000] [--no-postgres | --no-sqlite]
       [--url postgresql://...]

Why rounds: on a shared virtual machine the cost of an fsync or of a loopback round trip can move
by 2-3x within minutes, and the two sides of a ratio measured minutes apart can land in different
weather. Each round runs one sequential first-run turn of N effects on effecthost
(bench/sqlite_bench.py or bench/postgres_bench.py with ``--sequential-only``, fresh file or
schema) and DBOS's ``1wf_x_nsteps`` (the shared peer script, one run, fresh database) one right
after the other, alternating which goes first, and reports the ratio of that round. The summary
gives every round's ratio and their median.

Before and after the rounds it prints what the machine costs right now (``machine`` lines): a 4 KiB
write plus fdatasync in the bench directory and a ``SELECT 1`` round trip to the server, so that
figures from different days can be read against the weather they were measured in.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("EFFECTHOST_PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
PEERS_PYTHON = os.environ.get("EFFECTHOST_PEERS_PYTHON", "/tmp/peers/bin/python")
DEFAULT_URL = os.environ.get("EFFECTHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGETS = {"sqlite": 10.0, "postgres": 5.0}  # issue 3 (same durability setting) and issue 4


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def json_lines(cmd: list[str], timeout: float = 1800, **kw: Any) -> list[dict[str, Any]]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited with {done.returncode}: {done.stderr[-1500:]}")
    lines = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def pick(lines: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    for line in lines:
        if all(line.get(k) == v for k, v in match.items()):
            return line
    raise RuntimeError(f"no line matching {match} in {lines}")


def machine(directory: Path, url: str | None, when: str) -> None:
    """What an fsync and a server round trip cost at this moment."""
    path = directory / "fdatasync.probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"\0" * (1 << 20))
        os.fsync(fd)
        started = time.perf_counter()
        for i in range(300):
            os.pwrite(fd, b"x" * 4096, (i % 200) * 4096)
            os.fdatasync(fd)
        fsync_us = (time.perf_counter() - started) / 300 * 1e6
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    fields: dict[str, Any] = {"bench": "machine", "when": when, "fdatasync_4k_us": round(fsync_us, 1)}
    if url is not None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(50):
                conn.execute("SELECT 1")
            started = time.perf_counter()
            for _ in range(500):
                conn.execute("SELECT 1")
            fields["postgres_round_trip_us"] = round((time.perf_counter() - started) / 500 * 1e6, 1)
    fields["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    emit(**fields)


def ours_sqlite(directory: Path, n: int) -> tuple[float, float]:
    lines = json_lines([
        sys.executable, str(ROOT / "bench" / "sqlite_bench.py"), "--dir", str(directory), "--n", str(n),
        "--runs", "1", "--synchronous", "full", "--sequential-only",
    ])
    line = pick(lines, bench="first_run_sequential")
    return line["us_per_effect"], line["floor_us"]


def ours_postgres(url: str, n: int) -> tuple[float, float]:
    steps = 40
    lines = json_lines([
        sys.executable, str(ROOT / "bench" / "postgres_bench.py"), "--url", url, "--sequential-only",
        "--runs", "1", "--turns", str(max(1, n // steps)), "--steps", str(steps),
    ])
    line = pick(lines, bench="postgres_sequential")
    return line["first_run_us_per_effect"], line["floor_us"]


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def ours_turn_api(url: str, n: int) -> float:
    """The same N first-run steps through the turn API (``turn.step`` in one driven turn)."""
    lines = json_lines([
        sys.executable, str(ROOT / "bench" / "turns_bench.py"), "--parts", "one_turn", "--url", url,
        "--turns", str(n),
    ])
    return float(pick(lines, bench="turn_steps_one_turn")["us_per_step"])


def dbos(db: str, n: int) -> float:
    # --wfs/--wf-steps 1: the script's other shapes shrink to nothing; only 1wf_x_nsteps is read.
    lines = json_lines(
        [PEERS_PYTHON, "bench_dbos.py", "--db", db, "--n", str(n), "--runs", "1", "--wfs", "1",
         "--wf-steps", "1"],
        cwd=str(PEERS),
    )
    return float(pick(lines, bench="1wf_x_nsteps")["us_per_step"])


def fresh_pg_database(url: str) -> str:
    import psycopg

    name = f"eh_h2h_dbos_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{url.rsplit('/', 1)[0]}/{name}"


def drop_pg_database(url: str, db_url: str) -> None:
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_round(
    backend: str, index: int, n: int, round_dir: Path, url: str
) -> tuple[float, float, float, float]:
    """(effecthost µs per effect, its floor, DBOS µs per step, turn API µs per step) measured
    back to back."""
    pg_db = fresh_pg_database(url) if backend == "postgres" else None
    try:
        peer_db = pg_db or f"sqlite:///{round_dir / 'dbos.sqlite'}"
        if index % 2 == 1:  # alternate the order so a drift does not favour one side
            peer = dbos(peer_db, n)
        us, floor = ours_sqlite(round_dir, n) if backend == "sqlite" else ours_postgres(url, n)
        schema = f"eh_h2h_turns_{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            turn_us = ours_turn_api(f"sqlite:///{round_dir / 'turns.db'}?synchronous=full", n)
        else:
            try:
                turn_us = ours_turn_api(with_schema(url, schema), n)
            finally:
                drop_schema(url, schema)
        if index % 2 == 0:
            peer = dbos(peer_db, n)
    finally:
        if pg_db is not None:
            drop_pg_database(url, pg_db)
    return us, floor, peer, turn_us


def rounds(backend: str, count: int, n: int, work: Path, url: str) -> None:
    ratios: list[float] = []
    turn_ratios: list[float] = []
    ours_us: list[float] = []
    peer_us: list[float] = []
    for index in range(count):
        round_dir = work / f"{backend}-{index}"
        round_dir.mkdir()
        try:
            us, floor, peer, turn_us = one_round(backend, index, n, round_dir, url)
        finally:
            shutil.rmtree(round_dir, ignore_errors=True)
        ratio = round(peer / us, 2)
        ratios.append(ratio)
        ours_us.append(us)
        peer_us.append(peer)
        turn_ratios.append(round(peer / turn_us, 2))
        emit(bench="head_to_head_round", backend=backend, round=index, n=n, effecthost_us_per_effect=us,
             effecthost_floor_us=floor, dbos_us_per_step=peer, x_cheaper_than_dbos=ratio,
             turn_api_us_per_step=turn_us, turn_api_x_cheaper_than_dbos=turn_ratios[-1])
    emit(summary="head_to_head", backend=backend, rounds=count, n=n, x_cheaper_than_dbos_by_round=ratios,
         x_cheaper_than_dbos_median=round(statistics.median(ratios), 2), target=TARGETS[backend],
         effecthost_us_per_effect_median=round(statistics.median(ours_us), 1),
         dbos_us_per_step_median=round(statistics.median(peer_us), 1),
         turn_api_x_cheaper_than_dbos_median=round(statistics.median(turn_ratios), 2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not Path(PEERS_PYTHON).exists():
        emit(bench="head_to_head", skipped=f"{PEERS_PYTHON} missing (make bench creates the peers venv)")
        return
    url = None if args.no_postgres else args.url
    work = Path(tempfile.mkdtemp(prefix="effecthost-h2h-"))
    try:
        machine(work, url, "before")
        if not args.no_sqlite:
            rounds("sqlite", args.rounds, args.n, work, args.url)
        if url is not None:
            rounds("postgres", args.rounds, args.n, work, url)
        machine(work, url, "after")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
