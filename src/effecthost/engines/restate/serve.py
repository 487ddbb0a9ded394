"""Serve an endpoint's ASGI app with hypercorn in this very process (HTTP/2 cleartext, which
Restate speaks to endpoints): ``python -m effecthost.engines.restate.serve MODULE:APP --bind
127.0.0.1:9080``. One process, so the PID a supervisor holds is the one serving (hypercorn's own
command line forks a worker)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m effecthost.engines.restate.serve")
    parser.add_argument("app", help="MODULE:ATTRIBUTE of the ASGI app (restate_app(...))")
    parser.add_argument("--bind", default="127.0.0.1:9080")
    args = parser.parse_args(argv)
    module_name, _, attribute = args.app.partition(":")
    sys.path.insert(0, ".")
    app = getattr(importlib.import_module(module_name), attribute or "app")

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [args.bind]
    config.accesslog = None
    stop = asyncio.Event()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(run())


if __name__ == "__main__":
    main()
