"""What every command shares: the --url/--json options, running a coroutine on an open host,
turning errors into ``code: message`` and an exit code, and printing JSON or rich tables."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from .. import DurableEffectHost, EffectHostError, open_host
from ..engines import engine_of_url, open_engine_host

T = TypeVar("T")

DEFAULT_URL = "sqlite:///effecthost.db"
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="EFFECTHOST_URL",
        help="Host URL: memory://NAME, sqlite:///path.db, postgresql://... (turns and waits:"
        " restate://..., temporal://... too).",
        show_envvar=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # one error, one line


class Mode:
    """How this invocation reports: ``--json`` anywhere on the line makes errors JSON too."""

    json = False
    #: A Temporal client was opened (the console script then skips the interpreter's teardown).
    temporal_used = False


def printable(value: object) -> str:
    """``value`` as text that cannot drive the terminal: control and other non-printable
    characters (an ESC sequence, a newline that would forge a row) are shown escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def cell(value: object) -> Text:
    """A table cell or title from caller-controlled text: never parsed as rich markup."""
    return Text(printable(value))


def report_error(code: str, message: str) -> None:
    """``code: message`` on stderr, or with ``--json`` the object ``{"code", "message"}`` on
    stdout (where a script reading ``--json`` output looks)."""
    if Mode.json:
        emit_json({"code": str(code), "message": message})
    else:
        err_console.print(printable(f"{code}: {message}"), markup=False)


def fail(code: str, message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Report the error and exit; never a traceback."""
    report_error(code, message)
    raise typer.Exit(exit_code)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine; library errors exit 1 with their code, unexpected ones too (no traceback).

    ``EFFECTHOST_DEBUG=1`` lets unexpected exceptions through, for bug reports.
    """
    # The connection pool logs each failed attempt; the command reports the failure once, coded.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except EffectHostError as exc:
        fail(exc.code, exc.message)
    except KeyboardInterrupt:
        fail("interrupted", "interrupted by the user", 130)
    except Exception as exc:
        if inspect.iscoroutine(coro):
            coro.close()  # asyncio.run refused it (e.g. inside a running loop): no "never awaited"
        if os.environ.get("EFFECTHOST_DEBUG"):
            raise
        fail("internal_error", f"{type(exc).__name__}: {exc}")


def must_exist(url: str) -> None:
    """Read commands never create a database: a SQLite path that does not exist is an error
    (a mistyped path would otherwise leave an empty database behind)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).exists():
            fail("host_url_invalid", f"no database at {path} (read commands never create one)")


def with_host(url: str, body: Callable[[DurableEffectHost], Awaitable[T]], *, read: bool = False) -> T:
    if read:
        must_exist(url)

    async def go() -> T:
        async with await open_host(url) as host:
            return await body(host)

    return run(go())


def is_engine_url(url: str) -> bool:
    """A ``restate://`` or ``temporal://`` URL: an engine's deployment-side host, not a database."""
    return engine_of_url(url) is not None


def with_any_host(url: str, body: Callable[[Any], Awaitable[T]], *, read: bool = False) -> T:
    """Like :func:`with_host`, and ``restate://`` / ``temporal://`` URLs too: the engine's
    deployment-side host (its extra, and its secret in ``$EFFECTHOST_RESTATE_SECRET`` /
    ``$EFFECTHOST_TEMPORAL_SECRET``; see docs/restate.md, docs/temporal.md)."""
    engine = engine_of_url(url)
    if engine is None:
        return with_host(url, body, read=read)

    async def go() -> T:
        if engine == "temporal":
            Mode.temporal_used = True
        async with await open_engine_host(url) as host:
            return await body(host)

    return run(go())


#: The await commands take any host (the name is older than :func:`with_any_host`).
with_await_host = with_any_host


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def when(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def parse_json_option(text: str, option: str) -> Any:
    """JSON given inline, ``@path`` (read from a file) or ``-`` (read from stdin)."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            text = Path(text[1:]).read_text("utf-8")
        except OSError as exc:
            reason = exc.strerror or exc
            raise typer.BadParameter(f"cannot read {text[1:]}: {reason}", param_hint=option) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint=option) from None
