"""The ``effecthost`` typer application: every command, ``--help`` and ``--version``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from .awaits import await_app, session_app
from .blobs import blobs_app
from .common import EXIT_USAGE, Mode, console, report_error
from .console import turns_app, waits_app
from .journal import journal_app
from .ops import conformance, demo, migrate, serve
from .worker import worker

EPILOG = (
    "Exit codes: 0 ok; 1 effect-host error (prints `code: message`); 2 usage error or missing extra. "
    "Every command takes --url (env EFFECTHOST_URL, default sqlite:///effecthost.db)."
)

class ConsoleGroup(TyperGroup):
    """The root command: usage errors come out as ``usage_error: message`` (or, with ``--json``,
    as a JSON object), not as a framed box, and exit 2."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        Mode.json = "--json" in argv
        try:
            code = super().main(argv, prog_name, standalone_mode=False, **extra)
        except typer.Abort:
            report_error("aborted", "not confirmed: nothing was done")
            code = 1
        except typer.TyperException as exc:  # typer's (vendored) click usage errors
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                console.print(ctx.get_help(), markup=False)  # a bare group: its help, as before
                code = 0
            else:
                hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
                report_error("usage_error", _message(exc) + hint)
                code = getattr(exc, "exit_code", EXIT_USAGE)
        sys.exit(code if isinstance(code, int) else 0)


def _message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)


app = typer.Typer(
    name="effecthost",
    cls=ConsoleGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Operate durable effect hosts: serve the API and page, browse journals, resolve awaits.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"effecthost {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    # Options of the root command only; each subcommand does its own work.
    del version


app.command("serve")(serve)
app.add_typer(journal_app, name="journal")
app.add_typer(await_app, name="await")
app.add_typer(session_app, name="session")
app.command("migrate")(migrate)
app.command("conformance")(conformance)
app.command("demo")(demo)
app.command("worker")(worker)
app.add_typer(turns_app, name="turns")
app.add_typer(waits_app, name="waits")
app.add_typer(blobs_app, name="blobs")

__all__ = ["app"]
