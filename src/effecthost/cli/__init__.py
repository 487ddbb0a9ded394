"""The ``effecthost`` command line (typer + rich).

Exit codes: 0 success; 1 an effect-host or operation error (``code: message`` on stderr);
2 a usage error (bad option, missing argument, malformed JSON option).
"""

from __future__ import annotations

import typer

from .awaits import await_app, session_app
from .journal import journal_app
from .ops import conformance, demo, migrate, serve

EPILOG = (
    "Exit codes: 0 ok; 1 effect-host error (prints `code: message`); 2 usage error. "
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
app.command("serve")(serve)
app.add_typer(journal_app, name="journal")
app.add_typer(await_app, name="await")
app.add_typer(session_app, name="session")
app.command("migrate")(migrate)
app.command("conformance")(conformance)
app.command("demo")(demo)


def main() -> None:
    app(prog_name="effecthost")


__all__ = ["app", "main"]
