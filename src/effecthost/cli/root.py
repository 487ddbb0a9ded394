"""The ``effecthost`` typer application: every command, ``--help`` and ``--version``."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from .awaits import await_app, session_app
from .common import console
from .journal import journal_app
from .ops import conformance, demo, migrate, serve
from .worker import worker

EPILOG = (
    "Exit codes: 0 ok; 1 effect-host error (prints `code: message`); 2 usage error or missing extra. "
    "Every command takes --url (env EFFECTHOST_URL, default sqlite:///effecthost.db)."
)

app = typer.Typer(
    name="effecthost",
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

__all__ = ["app"]
