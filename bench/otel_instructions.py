"""What the OpenTelemetry interceptor costs per journaled effect, counted in instructions.

Usage: python bench/otel_instructions.py [--n 1000] [--backends memory sqlite-normal] [--api raw turn]

Three set-ups side by side, as bench/instructions.py counts them (``valgrind --tool=callgrind``, a
process that drives N first-run effects less the same process that only builds them, over N):

- ``none``: no interceptor (the fast path);
- ``api``: ``OTelInterceptor()`` with the SDK not installed (a ``sys.meta_path`` finder refuses
  ``opentelemetry.sdk``): the API's no-op providers;
- ``sdk``: the SDK's ``TracerProvider`` (simple span processor, an exporter that drops every span)
  and ``MeterProvider`` (an in-memory reader nobody reads): every span and metric is made.

``raw`` drives ``controller.execute_effect`` (no turn: effect spans only); ``turn`` runs one turn
of N ``turn.step`` calls (its ``invoke_agent`` span is in the "built" run too, so the figure is per
effect). Targets (issue 17): api +2 %, sdk +25 % over none. Prints JSON lines. Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SETUPS = ("none", "api", "sdk")
TARGET_PCT = {"api": 2, "sdk": 25}


class _NoSdk:
    """Refuses ``opentelemetry.sdk``: the process behaves as if only the API were installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _interceptors(setup: str) -> list[Any]:
    if setup == "none":
        return []
    if setup == "api":
        sys.meta_path.insert(0, _NoSdk())  # type: ignore[arg-type]
        from effecthost.contrib.otel import OTelInterceptor

        return [OTelInterceptor()]
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from effecthost.contrib.otel import OTelInterceptor, ReplayAwareIdGenerator

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider(id_generator=ReplayAwareIdGenerator())
    tracer_provider.add_span_processor(SimpleSpanProcessor(Dropped()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return [OTelInterceptor(tracer_provider=tracer_provider, meter_provider=meter_provider)]


async def child(backend: str, setup: str, api: str, n: int, drive: bool, directory: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from effecthost import (
        DurableStep,
        EffectEnvelope,
        EffectKind,
        ExecutionScope,
        LocalExecutor,
        RuntimeInvocation,
        RuntimeScope,
        Turn,
        durable_turn,
        open_host,
    )

    interceptors = _interceptors(setup)
    target = "memory://otel" if backend == "memory" else f"sqlite:///{directory}/otel.db?synchronous=normal"
    host = await open_host(target, interceptors=interceptors)

    def step(value: Any) -> Any:
        return value["i"] + 1

    if api == "turn":

        @durable_turn(name="otel")
        async def steps(turn: Turn, count: int) -> None:
            for i in range(count):
                await turn.step("step", step, {"i": i})

        await host.run_turn(steps, session_id="otel", turn_id="t", input={"count": n if drive else 0})
    else:
        scope = RuntimeScope.for_turn("otel", "t", 0, 0)
        envelopes = [
            EffectEnvelope(
                RuntimeInvocation.effect(
                    scope, f"step#{i}", EffectKind.DURABLE_STEP, f"otel:t:0:0:durable_step:step#{i}"
                ),
                DurableStep("step", {"i": i}),
            )
            for i in range(n)
        ]
        controller = host.scoped(ExecutionScope.turn("otel", "t")).controller
        if drive:
            for envelope in envelopes:
                await controller.execute_effect(envelope, LocalExecutor.durable_step(step))
    await host.aclose()


def counted(backend: str, setup: str, api: str, n: int, drive: bool) -> int:
    directory = tempfile.mkdtemp(prefix="effecthost-otel-")
    try:
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            backend,
            "--setup",
            setup,
            "--api",
            api,
            "--n",
            str(n),
            "--dir",
            directory,
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
    parser.add_argument(
        "--backends", nargs="+", choices=("memory", "sqlite-normal"), default=["memory", "sqlite-normal"]
    )
    parser.add_argument("--api", nargs="+", choices=("raw", "turn"), default=["raw", "turn"])
    parser.add_argument("--child", choices=("memory", "sqlite-normal"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", choices=SETUPS, default="none", help=argparse.SUPPRESS)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.setup, args.api[0], args.n, args.drive, args.dir))
        return
    if shutil.which("valgrind") is None:
        print(json.dumps({"bench": "otel_instructions", "skipped": "valgrind is not installed"}))
        return
    for backend in args.backends:
        for api in args.api:
            per_effect: dict[str, int] = {}
            for setup in SETUPS:
                driven = counted(backend, setup, api, args.n, True)
                built = counted(backend, setup, api, args.n, False)
                per_effect[setup] = round((driven - built) / args.n)
                print(
                    json.dumps(
                        {
                            "bench": "otel_instructions",
                            "backend": backend,
                            "api": api,
                            "setup": setup,
                            "n": args.n,
                            "instructions_per_effect": per_effect[setup],
                        }
                    ),
                    flush=True,
                )
            none = per_effect["none"]
            print(
                json.dumps(
                    {
                        "summary": "otel_overhead",
                        "backend": backend,
                        "api": api,
                        **{
                            f"{s}_over_none_pct": round(100 * (per_effect[s] / none - 1), 1)
                            for s in ("api", "sdk")
                        },
                        "target_pct": TARGET_PCT,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
