"""The ``effecthost`` command line (typer + rich: ``pip install 'effecthost[cli]'``).

Exit codes: 0 success; 1 an effect-host or operation error (``code: message`` on stderr);
2 a usage error (bad option, missing argument, malformed JSON option) or a missing extra.

This module imports neither typer nor rich: ``effecthost.cli:main`` is the console script of
every install, extras or not, and without them it must say which extra to install instead of
dying on an import. The commands live in :mod:`effecthost.cli.root` and are imported by ``main``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .root import app

EXIT_MISSING_EXTRA = 2


def _is_install_gap(exc: ModuleNotFoundError) -> bool:
    # A missing third-party package is fixed by installing the extra; a missing effecthost
    # module is a bug and keeps its traceback.
    name = exc.name or ""
    return bool(name) and name.partition(".")[0] != "effecthost"


def _needs(needs: str, extra: str, module: str | None) -> str:
    return f"{needs} needs the {extra} extra ({module} is not installed): pip install 'effecthost[{extra}]'"


def missing_extra(exc: ModuleNotFoundError, needs: str, extra: str) -> NoReturn:
    """Exit 2 with one line on stderr naming the extra to install when ``exc`` is a missing
    third-party package; re-raise anything else."""
    if not _is_install_gap(exc):
        raise exc
    sys.stderr.write(f"effecthost: {_needs(needs, extra, exc.name)}\n")
    raise SystemExit(EXIT_MISSING_EXTRA)


def main() -> None:
    """The console script: run the command line on ``sys.argv``."""
    try:
        from .root import app
    except ModuleNotFoundError as exc:
        missing_extra(exc, "the command line", "cli")
    try:
        app(prog_name="effecthost")
    except SystemExit as done:
        _skip_teardown_after_temporal(done.code)
        raise
    _skip_teardown_after_temporal(0)


def _skip_teardown_after_temporal(code: object) -> None:
    """After a command that used a Temporal client, exit without the interpreter's teardown: the
    client's Rust threads can outlive it and abort the process (SIGABRT, "PyGILState_Release",
    temporalio/sdk-python issue 300) after the command's output and exit code were settled."""
    from .common import Mode

    if not Mode.temporal_used:
        return
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what SystemExit would have printed
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def __getattr__(name: str) -> Any:
    # ``from effecthost.cli import app`` keeps working, and only then needs typer.
    if name == "app":
        try:
            from .root import app
        except ModuleNotFoundError as exc:
            if not _is_install_gap(exc):
                raise
            raise ModuleNotFoundError(_needs("effecthost.cli", "cli", exc.name), name=exc.name) from None
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
