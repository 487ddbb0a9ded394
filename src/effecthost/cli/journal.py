"""``effecthost journal sessions|show|retire``: browse and retire the effect journal."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import DurableEffectHost, operations
from ..views import effect_view, scope_view
from .common import DEFAULT_URL, JsonOption, UrlOption, cell, console, emit_json, when, with_host

journal_app = typer.Typer(help="Browse and retire the effect journal.", no_args_is_help=True)


@journal_app.command("sessions")
def sessions(
    url: UrlOption = DEFAULT_URL,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many sessions.")] = 50,
    offset: Annotated[
        int, typer.Option(min=0, help="Skip this many sessions (older paging; prefer --after).")
    ] = 0,
    after: Annotated[
        str | None,
        typer.Option(help="The next page: the cursor a previous page printed (`next`)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List journaled sessions, most recent first, a page at a time (keyset: --after)."""

    async def body(host: DurableEffectHost) -> dict[str, Any]:
        return await operations.list_sessions(host, after=after, limit=limit, offset=offset)

    page = with_host(url, body, read=True)
    rows = page["sessions"]
    if as_json:
        emit_json({**page, "limit": limit, "offset": offset})
        return
    table = Table("session", "scopes", "effects", "in progress", "failed", "last activity")
    for row in rows:
        table.add_row(
            cell(row["session_id"]),
            str(row["scopes"]),
            str(row["effects"]),
            str(row["in_progress"]),
            str(row["failed"]),
            when(row["last_at_ms"]),
        )
    console.print(table if rows else "no journaled sessions")
    if page["next"] is not None:
        console.print(f"more: --after {page['next']}", markup=False, soft_wrap=True)


def _result(effect: dict[str, Any]) -> str:
    if effect["error"] is not None:
        error = effect["error"]
        return (
            f"{error.get('code')}: {error.get('message')}"
            if isinstance(error, dict)
            else str(error)
        )
    if effect["outcome"] is None:
        return ""
    return json.dumps(effect["outcome"], ensure_ascii=False)[:80]


#: Rows per ``list_effects`` call of ``journal show``, which always shows whole scopes.
EFFECTS_PAGE = 1000


async def _all_effects(host: DurableEffectHost, scope_key: str) -> list[dict[str, Any]]:
    """Every row of the scope, page by page (keyset: a row recorded meanwhile shifts nothing),
    until a short page."""
    out: list[dict[str, Any]] = []
    after: tuple[int, int, str] | None = None
    while True:
        page = await host.browser.list_effects(scope_key, limit=EFFECTS_PAGE, after=after)
        out += [effect_view(r) for r in page]
        if len(page) < EFFECTS_PAGE:
            return out
        after = (page[-1].seq, page[-1].created_at_ms, page[-1].replay_key)


@journal_app.command("show")
def show(
    session_id: Annotated[str, typer.Argument(help="The session to show.")],
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Show a session's scopes and every effect in them (status, kind, ids, result)."""

    async def body(host: DurableEffectHost) -> list[dict[str, Any]]:
        out = []
        for scope in await host.browser.list_scopes(session_id):
            view = scope_view(scope)
            view["effects"] = await _all_effects(host, scope.scope_key)
            out.append(view)
        return out

    scopes = with_host(url, body, read=True)
    if as_json:
        emit_json({"session_id": session_id, "scopes": scopes})
        return
    if not scopes:
        console.print(f"no journal rows for session {session_id!r}", markup=False)
    for scope in scopes:
        table = Table(
            "status", "kind", "effect id", "replay key", "took", "result", title=cell(scope["scope_key"])
        )
        for effect in scope["effects"]:
            took = (
                ""
                if effect["status"] == "in_progress"
                else f"{effect['updated_at_ms'] - effect['created_at_ms']} ms"
            )
            table.add_row(
                cell(effect["status"]),
                cell(effect["kind"]),
                cell(effect["effect_id"]),
                cell(effect["replay_key"]),
                took,
                cell(_result(effect)),
            )
        console.print(table)


@journal_app.command("retire")
def retire(
    session_id: Annotated[str, typer.Argument(help="The session whose journal rows to delete.")],
    url: UrlOption = DEFAULT_URL,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Retire even a live session (its running turn breaks).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete every journal row of a session (turn, drain and delete scopes). A live session (a
    turn not ended, an effect in progress, a wait outstanding) is refused unless --force."""
    if not yes:
        typer.confirm(f"Delete the journal of session {session_id!r}?", abort=True)

    async def body(host: DurableEffectHost) -> int:
        done = await operations.retire_session(host, session_id, force=force)
        retired: int = done["retired_rows"]
        return retired

    count = with_host(url, body)
    if as_json:
        emit_json({"session_id": session_id, "retired_rows": count})
    else:
        console.print(f"retired {count} journal rows of session {session_id!r}", markup=False)
