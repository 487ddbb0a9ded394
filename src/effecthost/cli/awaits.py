"""``effecthost await list|peek|resolve|cancel`` and ``effecthost session revoke``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHost,
    EffectHostError,
    ErrorCode,
    Resolution,
    ResolveOutcome,
    operations,
)
from ..views import await_key_view
from .common import (
    DEFAULT_URL,
    JsonOption,
    UrlOption,
    cell,
    console,
    emit_json,
    fail,
    parse_json_option,
    run,
    with_any_host,
)

await_app = typer.Typer(help="Inspect and resolve await events.", no_args_is_help=True)
session_app = typer.Typer(help="Session-wide operations.", no_args_is_help=True)

TokenArg = Annotated[str, typer.Argument(help="An await-event token (ehk1.…).")]
SessionArg = Annotated[str, typer.Argument(help="A session id.")]


def _key(token: str) -> AwaitEventKey:
    try:
        return AwaitEventKey.from_token(token)
    except EffectHostError as exc:
        fail(exc.code, exc.message)


@await_app.command("list")
def list_waits(session_id: SessionArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """List a session's outstanding (parked) await events with their tokens."""

    async def body(host: EffectHost) -> list[dict[str, Any]]:
        return [await_key_view(k) for k in await host.list_outstanding_await_event_keys(session_id)]

    waits = with_any_host(url, body, read=True)
    if as_json:
        emit_json({"session_id": session_id, "await_events": waits})
        return
    if not waits:
        console.print(f"no outstanding await events in session {session_id!r}", markup=False)
        return
    table = Table("wait", "scope", "token")
    for wait in waits:
        table.add_row(cell(_describe(wait["wait"])), cell(_describe(wait["scope"])), wait["token"])
    console.print(table)


def _describe(value: dict[str, Any]) -> str:
    rest = " ".join(f"{k}={v}" for k, v in value.items() if k != "type")
    return f"{value.get('type')} {rest}".strip()


@await_app.command("peek")
def peek(token: TokenArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Show whether an await event is resolved, without registering a waiter."""
    key = _key(token)

    async def body(host: EffectHost) -> Resolution | None:
        return await host.peek_await_event(key)

    terminal = with_any_host(url, body, read=True)
    view = {
        "status": "pending" if terminal is None else "resolved",
        "resolution": None if terminal is None else terminal.to_json(),
    }
    if as_json:
        emit_json(view)
    elif terminal is None:
        console.print("pending")
    else:
        console.print(f"resolved: {json.dumps(terminal.to_json())}", markup=False)


def resolution_of(ok: str | None, err: str | None, message: str, raw: str | None) -> Resolution:
    given = [name for name, value in (("--ok", ok), ("--err", err), ("--resolution", raw)) if value]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --ok JSON, --err CODE or --resolution JSON")
    try:
        if ok is not None:
            return Resolution.ok(parse_json_option(ok, "--ok"))
        if err is not None:
            return Resolution.err(err, message)
        return Resolution.from_json(parse_json_option(raw or "", "--resolution"))
    except EffectHostError as exc:
        raise typer.BadParameter(f"{exc.code}: {exc.message}") from None


@await_app.command("resolve")
def resolve(
    token: TokenArg,
    url: UrlOption = DEFAULT_URL,
    ok: Annotated[
        str | None, typer.Option("--ok", help="Resolve ok with this JSON payload (@file, - for stdin).")
    ] = None,
    err: Annotated[str | None, typer.Option("--err", help="Resolve with this error code.")] = None,
    message: Annotated[str, typer.Option("--message", help="Message of an --err resolution.")] = "",
    raw: Annotated[
        str | None, typer.Option("--resolution", help="A whole Resolution as JSON (spec 2.12).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an await event (first writer wins). Exit 1 when the key is unknown or revoked."""
    resolution = resolution_of(ok, err, message, raw)
    key = _key(token)

    async def body(host: operations.AnyHost) -> ResolveOutcome:  # a database's or an engine's host
        return await host.resolve_await_event(key, resolution, resolved_by="cli")

    outcome = with_any_host(url, body)
    if as_json:
        emit_json(outcome.to_json())
    else:
        console.print(outcome.status, markup=False)
        if outcome.terminal is not None:
            console.print(f"terminal: {json.dumps(outcome.terminal.to_json())}", markup=False)
    if outcome == ResolveOutcome.UNKNOWN_OR_REVOKED:
        fail(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, "await-event key is invalid or revoked")


@await_app.command("cancel")
def cancel(session_id: SessionArg, url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Cancel-sweep a session: its pending waits resolve cancelled; the session stays usable."""

    async def body(host: EffectHost) -> dict[str, Any]:
        if isinstance(host, DurableEffectHost):
            return await operations.cancel_waits(host, session_id, by="cli")
        await host.cancel_await_events_for_session(session_id)  # an engine host: no count
        return {"session_id": session_id, "cancelled": None}

    done = with_any_host(url, body)
    if as_json:
        emit_json(done)
    else:
        count = done["cancelled"]
        what = "the" if count is None else f"{count}"
        plural = "" if count == 1 else "s"
        console.print(f"cancelled {what} pending await event{plural} of session {session_id!r}", markup=False)


@session_app.command("revoke")
def revoke(
    session_id: SessionArg,
    url: UrlOption = DEFAULT_URL,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Revoke even a session nothing was ever recorded for.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Revoke every await event of a session, permanently (a tombstone). A session with no
    record at all is refused unless --force: a mistyped id would keep its tombstone forever."""
    if not yes:
        typer.confirm(f"Permanently revoke the await events of session {session_id!r}?", abort=True)

    async def body(host: EffectHost) -> dict[str, Any]:
        if isinstance(host, DurableEffectHost):
            return await operations.revoke_session(host, session_id, force=force)
        await host.revoke_await_events_for_session(session_id)  # an engine host: no count
        return {"session_id": session_id, "pending_waits_revoked": None}

    done = with_any_host(url, body)
    if as_json:
        emit_json(done)
    elif done["pending_waits_revoked"] is None:
        console.print(f"revoked session {session_id!r}", markup=False)
    else:
        console.print(
            f"revoked session {session_id!r} ({done['pending_waits_revoked']} pending waits revoked)",
            markup=False,
        )


__all__ = ["await_app", "run", "session_app"]
