"""``effecthost worker URL --app module:attr``: run the turn functions of an application."""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from typing import Annotated, Any

import typer

from .. import DurableTurn, EffectHostError, Worker, open_host
from ..interceptors import EffectLog, Interceptor
from .common import DEFAULT_URL, err_console, fail, run
from .logs import LogFormat, LogFormatOption, LogLevel, LogLevelOption, configure_logging


def load_turns(spec: str) -> list[DurableTurn[Any]]:
    """``module:attr`` → the ``@durable_turn`` functions it names: one, or an iterable of them.
    The current directory is importable, as for ``python -m``."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        fail("invalid_argument", f"--app takes module:attribute, not {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        fail("invalid_argument", f"--app: cannot import {module_name!r}: {exc}")
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            fail("invalid_argument", f"--app: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    turns = [target] if isinstance(target, DurableTurn) else list(target) if _iterable(target) else []
    if not turns or not all(isinstance(t, DurableTurn) for t in turns):
        fail("invalid_argument", f"--app {spec} is not a @durable_turn function or a list of them")
    return turns


def _interceptors(otel: bool, log_level: LogLevel) -> list[Interceptor]:
    chosen: list[Interceptor] = []
    if otel:
        try:
            from ..contrib.otel import OTelInterceptor
        except EffectHostError as error:
            fail(error.code, error.message, 2)
        chosen.append(OTelInterceptor())
    if log_level is LogLevel.DEBUG:
        chosen.append(EffectLog())  # a line per effect: only when asked, it costs every effect
    return chosen


def _iterable(value: object) -> bool:
    return isinstance(value, (list, tuple, set, frozenset))


def worker(
    url: Annotated[str, typer.Argument(metavar="URL", help="Host URL of the substrate.")] = DEFAULT_URL,
    app: Annotated[
        str, typer.Option("--app", help="module:attribute naming a @durable_turn function or a list of them.")
    ] = "",
    concurrency: Annotated[int, typer.Option(min=1, help="Turns driven at once.")] = 100,
    suspend_after: Annotated[
        float, typer.Option(min=0.001, help="Seconds of wait or sleep after which a turn is suspended.")
    ] = 1.0,
    lease_ttl: Annotated[
        float | None, typer.Option(min=0.01, help="Lease TTL in seconds (crash recovery time).")
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    log_level: LogLevelOption = LogLevel.INFO,
    otel: Annotated[
        bool,
        typer.Option(
            "--otel",
            help="Trace turns and effects and record metrics with OpenTelemetry (the otel extra; the"
            " SDK and exporters as configured by opentelemetry-instrument or OTEL_* variables).",
        ),
    ] = False,
) -> None:
    """Run, recover and resume the app's turns on URL until interrupted (SIGINT/SIGTERM)."""
    if not app:
        fail("invalid_argument", "--app module:attribute is required")
    turns = load_turns(app)
    configure_logging(log_format, log_level)
    interceptors = _interceptors(otel, log_level)

    async def go() -> None:
        async with await open_host(url, lease_ttl_s=lease_ttl, interceptors=interceptors) as host:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            async with Worker(host, turns, concurrency=concurrency, suspend_after_s=suspend_after) as running:
                names = ", ".join(running.names)
                err_console.print(f"worker on {host.backend}: running {names}; Ctrl-C stops", markup=False)
                await stop.wait()
                err_console.print(
                    f"stopping: {running.completed} turns ended, {running.suspended} suspended,"
                    f" {running.active} released",
                    markup=False,
                )

    run(go())
