"""Run an effecthost worker: ``python -m effecthost.engines.temporal.serve MODULE:TURNS --address
127.0.0.1:7233 --task-queue effecthost`` (the signing secret from ``$EFFECTHOST_TEMPORAL_SECRET``;
``TURNS`` is a list of ``@durable_turn`` functions). Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from datetime import timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m effecthost.engines.temporal.serve")
    parser.add_argument("turns", help="MODULE:ATTRIBUTE of a list of @durable_turn functions")
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default="effecthost")
    parser.add_argument(
        "--sticky-timeout", type=float, default=5.0, help="seconds before a sticky task goes to any worker"
    )
    parser.add_argument("--ready-file", default=None, help="touched once the worker polls")
    args = parser.parse_args(argv)
    module_name, _, attribute = args.turns.partition(":")
    sys.path.insert(0, ".")
    module = importlib.import_module(module_name)
    turns = getattr(module, attribute or "TURNS")
    options = getattr(module, "CONFIG_OPTIONS", {})
    workflows = getattr(module, "WORKFLOWS", [])  # more workflow classes to run beside the turns

    from temporalio.client import Client

    from .config import TemporalConfig
    from .worker import temporal_worker

    config = TemporalConfig.from_env(task_queue=args.task_queue, namespace=args.namespace, **options)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        client = await Client.connect(
            args.address, namespace=args.namespace, data_converter=config.data_converter()
        )
        sticky = timedelta(seconds=args.sticky_timeout)
        async with temporal_worker(
            client,
            turns,
            config,
            passthrough=[module_name],
            workflows=workflows,
            sticky_queue_schedule_to_start_timeout=sticky,
        ):
            if args.ready_file:
                Path(args.ready_file).touch()  # noqa: ASYNC240 - once, at start
            await stop.wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
