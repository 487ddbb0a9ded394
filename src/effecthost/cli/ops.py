"""``effecthost serve|migrate|conformance|demo``: run the service, the schema, the kit, the demo."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import typer
from rich.table import Table

from .. import DurableEffectHost, EffectHostError, open_host
from ..store import check_schema
from . import missing_extra
from .common import (
    DEFAULT_URL,
    EXIT_ERROR,
    JsonOption,
    UrlOption,
    console,
    emit_json,
    fail,
    run,
    with_any_host,
    with_host,
)
from .logs import LogFormat, LogFormatOption, LogLevel, LogLevelOption, configure_logging


def serve(
    url: UrlOption = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8787,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="EFFECTHOST_ADMIN_TOKEN",
            show_envvar=True,
            help="Bearer token for admin routes; a random one is generated and printed if unset.",
        ),
    ] = None,
    resolve_token: Annotated[
        str | None,
        typer.Option(
            envvar="EFFECTHOST_RESOLVE_TOKEN",
            show_envvar=True,
            help="If set, resolving and peeking also need this bearer token.",
        ),
    ] = None,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Request body size limit.")] = 1_048_576,
    tokens_file: Annotated[
        str | None,
        typer.Option(
            "--tokens-file",
            envvar="EFFECTHOST_TOKENS_FILE",
            show_envvar=True,
            help='Named operator tokens: {"name": {"role": "viewer|resolver|admin", "token": "..."}}.',
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Serve the JSON API (/v1), the OpenAPI document, the web page and (with the prometheus
    extra) GET /metrics with uvicorn; one log line per request."""
    try:
        import uvicorn

        from ..server import create_app
        from ..server.protocol import uvicorn_options
    except ModuleNotFoundError as exc:
        missing_extra(exc, "serve", "server")
    from ..server.access import load_tokens

    try:
        tokens = None if tokens_file is None else load_tokens(tokens_file)
    except EffectHostError as exc:
        fail(exc.code, exc.message)
    # Open once up front so a bad URL or database fails here with its code, not in a traceback.
    with_any_host(url, _reach)
    configure_logging(log_format, log_level)
    token = admin_token or secrets.token_urlsafe(18)
    app = create_app(
        url,
        admin_token=token,
        resolve_token=resolve_token,
        tokens=tokens,
        max_body_bytes=max_body_bytes,
    )
    shown = "<from EFFECTHOST_ADMIN_TOKEN>" if admin_token else token
    console.print(f"effecthost serving {url}", markup=False)
    console.print(f"  page: http://{host}:{port}/?token={shown}", markup=False)
    console.print(f"  api:  http://{host}:{port}/v1/openapi.json (docs: /v1/docs)", markup=False)
    if tokens:
        console.print(f"  operator tokens: {', '.join(sorted(tokens))}", markup=False)
    # JSON answers from the protocol layer too, and deadlines for request heads (bodies: the app)
    uvicorn.run(app, host=host, port=port, log_level="warning", **uvicorn_options())


async def _reach(host: Any) -> None:
    """Nothing for a database (opening it checked it); one round trip for an engine, whose host
    opens without touching it."""
    if not isinstance(host, DurableEffectHost):
        await host.list_turns(limit=1)


def migrate(
    url: UrlOption = DEFAULT_URL,
    check: Annotated[
        bool, typer.Option("--check", help="Only report; exit 1 if a migration is pending.")
    ] = False,
) -> None:
    """Apply (or with --check, only check) the schema migrations of the host's substrate."""
    if check:
        if url.lower().startswith("memory://"):
            console.print("nothing to migrate: memory:// hosts keep no schema")
            return
        status = run(check_schema(url))
        if status.pending:
            found = "nothing yet" if status.found is None else f"schema {status.found}"
            fail("schema_migration_pending", f"{url} has {found}; current is {status.current}")
        console.print(f"schema is current (version {status.found})")
        return

    async def apply(host: DurableEffectHost) -> str:
        if not host.substrate.capabilities.schema_migrations:
            return f"nothing to migrate: {host.backend} hosts keep no schema"
        return f"schema is current ({host.backend} applies migrations when a host opens)"

    console.print(with_host(url, apply), markup=False)


def conformance(
    target: Annotated[
        str | None, typer.Argument(metavar="URL", help="Host URL to check (default: --url).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Run the conformance kit against a host URL's backend and print a report (exit 1 on any
    failure). It runs in a throwaway file, schema or substrate beside the given one and removes it
    after: the given database is not written."""
    from ..testing.conformance import Capabilities, run_all

    given = target or url
    # The kit writes sessions (some failing on purpose), tombstones and turn records: it runs in a
    # throwaway place beside the given one (same backend, server and filesystem), removed after.
    host_url, cleanup = throwaway(given)
    # Every vector gets host objects over this one substrate: the durable and cold-instance
    # vectors need that, and each vector picks fresh session ids so they do not collide.
    caps = Capabilities(durable_journal=True, cold_instances=True, journal_store=True)

    async def make() -> Any:
        return await open_host(host_url)

    try:
        report = run(run_all(make, caps))
    finally:
        cleanup()
    host_url = given

    rows: list[dict[str, Any]] = [
        {"name": r.name, "passed": r.passed, "seconds": round(r.seconds, 4), "error": r.error}
        for r in report.results
    ]
    if as_json:
        emit_json({"url": host_url, "passed": report.passed, "results": rows})
    else:
        table = Table("vector", "result", "seconds", "error", title=f"conformance of {host_url}")
        for row in rows:
            mark = "[green]pass[/]" if row["passed"] else "[red]FAIL[/]"
            table.add_row(str(row["name"]), mark, f"{row['seconds']:.3f}", str(row["error"] or ""))
        console.print(table)
        console.print(report.summary(), markup=False)
    if not report.passed:
        failed = sum(not r["passed"] for r in rows)
        fail("conformance_failed", f"{failed} of {len(rows)} vectors failed", EXIT_ERROR)


_PG_OWN_KEYS = (
    "schema",
    "pool_min_size",
    "pool_max_size",
    "pool_size",
    "max_payload_bytes",
    "connect_timeout_s",
)


def throwaway(url: str) -> tuple[str, Callable[[], None]]:
    """A URL on the same backend where the kit may write freely, and how to remove it after:
    a new SQLite file in the same directory, a new PostgreSQL schema on the same database, a new
    memory substrate. Other schemes run where given (nothing to isolate them by)."""
    tag = secrets.token_hex(6)
    lowered = url.lower()

    def nothing() -> None:
        return None

    if lowered.startswith("memory://"):
        return f"memory://conformance-{tag}", nothing
    if lowered.startswith("sqlite:///"):
        base, _, query = url[len("sqlite:///") :].partition("?")
        path = Path(base)
        scratch = path.with_name(f".{path.stem or 'effecthost'}.conformance-{tag}.db")

        def remove_file() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(scratch) + suffix).unlink(missing_ok=True)
            # <db>.wake/: the folder of the processes' wake-up sockets (empty once hosts closed)
            shutil.rmtree(str(scratch) + ".wake", ignore_errors=True)

        return "sqlite:///" + str(scratch) + (f"?{query}" if query else ""), remove_file
    if lowered.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
        schema = f"effecthost_kit_{tag}"
        kit_url = parts._replace(query=urlencode([*params, ("schema", schema)])).geturl()
        kept = [(k, v) for k, v in params if k not in _PG_OWN_KEYS]
        plain = parts._replace(query=urlencode(kept)).geturl()

        def drop_schema() -> None:
            import psycopg
            from psycopg import sql

            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

        return kit_url, drop_schema
    return url, nothing


def demo(
    url: UrlOption = DEFAULT_URL,
    wait_for_approval: Annotated[
        bool,
        typer.Option(help="Park on the approval and wait for a resolve from the page or the CLI."),
    ] = False,
    model: Annotated[
        str,
        typer.Option(help="scripted, openai:NAME (OPENAI_API_KEY) or anthropic:NAME (ANTHROPIC_API_KEY)."),
    ] = "scripted",
) -> None:
    """Run the demo support agent (killed mid-turn, recovered, approved) on the host."""
    from .. import demo as demo_module

    code = run(demo_module.main_async(url, wait_for_approval, model))
    raise typer.Exit(code)


__all__ = ["conformance", "demo", "migrate", "serve"]
