"""``effecthost turns list|show|start|cancel|resume|fork`` and ``effecthost waits list|resolve``.

Each command runs against a database (``--url``, as every other command) or a running service
(``--server http://... --token ...``: the HTTP API, with an operator token; no database
credentials needed). Both answer the same JSON shapes (:mod:`effecthost.operations`), which
``--json`` prints as they are.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import AwaitEventKey, DurableEffectHost, EffectHostError, ErrorCode, Resolution, operations
from ..engines import engine_of_url
from .awaits import resolution_of
from .common import (
    DEFAULT_URL,
    EXIT_ERROR,
    JsonOption,
    UrlOption,
    cell,
    console,
    emit_json,
    fail,
    run,
    when,
    with_any_host,
)

turns_app = typer.Typer(help="Find, inspect and act on durable turns.", no_args_is_help=True)
waits_app = typer.Typer(
    help="The inbox: waits for a human or a webhook, across sessions.", no_args_is_help=True
)

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="EFFECTHOST_SERVER",
        show_envvar=True,
        help="Talk to a running service (http://host:port) instead of a database.",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="EFFECTHOST_TOKEN",
        show_envvar=True,
        help="The service's admin token or a named operator token (with --server).",
    ),
]
SessionArg = Annotated[str, typer.Argument(help="The turn's session id.")]
TurnArg = Annotated[str, typer.Argument(help="The turn id.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
HTTP_TIMEOUT_S = 30.0


class Target:
    """A database (``url``) or a service (``server`` + ``token``)."""

    def __init__(self, url: str, server: str | None, token: str | None) -> None:
        self.url, self.server, self.token = url, server, token
        if server is not None and not server.startswith(("http://", "https://")):
            raise typer.BadParameter("the service URL starts with http:// or https://", param_hint="--server")

    def local(self, body: Any, *, read: bool = False) -> Any:
        """Run ``body`` on the URL's host: a database's, or an engine's deployment side."""
        return with_any_host(self.url, body, read=read)

    def refuse_on_engine(self, verb: str) -> None:
        """Verbs an engine host cannot serve end with a coded error, never a traceback."""
        engine = engine_of_url(self.url) if self.server is None else None
        if engine is not None:
            fail(
                ErrorCode.TURNS_UNSUPPORTED,
                f"`{verb}` is not available on the {engine} engine: its turns and journals stay in"
                f" {engine} (turns list, show, start, result and cancel, the waits inbox and the await"
                f" commands work; see docs/{engine}.md)",
            )

    def http(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        assert self.server is not None
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.server.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)

        def call() -> Any:
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
                    return json.loads(answer.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                try:
                    error = json.loads(exc.read().decode("utf-8"))
                    code, message = str(error["code"]), str(error["message"])
                except (ValueError, KeyError, TypeError):
                    code, message = f"http_{exc.code}", f"the service answered {exc.code} {exc.reason}"
                raise EffectHostError(code, message) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise EffectHostError(
                    ErrorCode.SERVER_UNREACHABLE, f"cannot reach {self.server}: {reason}"
                ) from None

        async def go() -> Any:
            return await asyncio.to_thread(call)

        return run(go())


def _target(url: str, server: str | None, token: str | None) -> Target:
    return Target(url, server, token)


def _ms(text: str | None, option: str) -> int | None:
    """A time as ms since the epoch, or an ISO date/time (local time unless it says otherwise)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        raise typer.BadParameter(
            "a time is ms since the epoch or an ISO date/time", param_hint=option
        ) from None


# ---- turns ------------------------------------------------------------------------------------


@turns_app.command("list")
def list_turns(
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    status: Annotated[
        str | None, typer.Option(help="running, waiting, sleeping, completed, failed, cancelled, pending")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The turn function's name.")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session's turns.")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ms or ISO time).")] = None,
    until: Annotated[str | None, typer.Option(help="Started before (ms or ISO time).")] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="An exact session or turn id.")] = None,
    after: Annotated[str | None, typer.Option(help="The cursor a previous page printed (next:).")] = None,
    oldest: Annotated[bool, typer.Option("--oldest", help="Oldest first (default: newest first).")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many turns.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List turns: status, name, session, started, duration; filtered and paged."""
    target = _target(url, server, token)
    since_ms, until_ms = _ms(since, "--since"), _ms(until, "--until")
    if target.server is not None:
        page = target.http(
            "GET",
            "/v1/turns",
            {
                "status": status, "name": name, "session_id": session, "since_ms": since_ms,
                "until_ms": until_ms, "q": search, "after": after,
                "order": "oldest" if oldest else None, "limit": limit,
            },
        )  # fmt: skip
    else:

        async def body(host: operations.AnyHost) -> dict[str, Any]:
            return await operations.list_turns(
                host, session_id=session, status=status, name=name, since_ms=since_ms,
                until_ms=until_ms, search=search, after=after, oldest_first=oldest, limit=limit,
            )  # fmt: skip

        page = target.local(body, read=True)
    if as_json:
        emit_json(page)
        return
    if not page["turns"]:
        console.print("no turns", markup=False)
        return
    table = Table("status", "name", "session", "turn", "started", "duration")
    for column in table.columns[2:4]:
        column.overflow = "fold"  # ids in full, never cut with an ellipsis
    for turn in page["turns"]:
        table.add_row(
            turn["status"], cell(turn["name"]), cell(turn["session_id"]), cell(turn["turn_id"]),
            when(turn["created_at_ms"]), _duration(turn["duration_ms"]),
        )  # fmt: skip
    console.print(table)
    if page["next"]:
        console.print(f"next: {page['next']}", markup=False)


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


@turns_app.command("show")
def show(
    session_id: SessionArg,
    turn_id: TurnArg,
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """A turn and its timeline: effects in run order, errors, waits and who resolved them."""
    target = _target(url, server, token)
    if target.server is not None:
        detail = target.http("GET", "/v1/turn", {"session_id": session_id, "turn_id": turn_id})
    else:

        async def body(host: operations.AnyHost) -> dict[str, Any]:
            return await operations.turn_detail(host, session_id, turn_id)

        detail = target.local(body, read=True)
    if as_json:
        emit_json(detail)
        return
    turn = detail["turn"]
    console.print(
        f"{turn['session_id']} / {turn['turn_id']}: {turn['name']} {turn['status']}"
        f" (started {when(turn['created_at_ms'])}, {_duration(turn['duration_ms'])},"
        f" attempts {turn['attempts']}, resumes {turn['resumes']})",
        markup=False,
    )
    if turn["error"]:
        console.print(f"error: {turn['error']['code']}: {turn['error']['message']}", markup=False)
    if turn["waiting"]:
        console.print(f"waiting: {json.dumps(turn['waiting'], ensure_ascii=False)}", markup=False)
    if turn["status"] == "completed":
        console.print(f"result: {json.dumps(turn['result'], ensure_ascii=False)}", markup=False)
    table = Table("#", "kind", "effect", "status", "drive", "took", "detail")
    table.columns[6].overflow = "fold"
    for effect in detail["effects"]:
        took = (
            ""
            if effect["status"] == "in_progress"
            else _duration(effect["updated_at_ms"] - effect["created_at_ms"])
        )
        table.add_row(
            str(effect["seq"]), effect["kind"], cell(effect["effect_id"]), effect["status"],
            _drive_marker(effect), took, cell(_effect_detail(effect)),
        )  # fmt: skip
    console.print(table)


def _drive_marker(effect: dict[str, Any]) -> str:
    """``d1 ↻2-4``: executed in drive 1, replayed by drives 2 to 4 (``d-``: by none of them)."""
    ran = effect.get("executed_in_drive")
    again: list[int] = effect.get("replayed_in_drives") or []
    if ran is None and not again:
        return ""
    span = "" if not again else f" ↻{again[0]}" + (f"-{again[-1]}" if len(again) > 1 else "")
    return ("d-" if ran is None else f"d{ran}") + span


def _effect_detail(effect: dict[str, Any]) -> str:
    if effect["error"]:
        return f"{effect['error'].get('code')}: {effect['error'].get('message')}"
    if effect["kind"] == "await_event":
        outcome = (effect["outcome"] or {}).get("resolution")
        who = effect.get("resolved_by")
        return f"{json.dumps(outcome, ensure_ascii=False)}" + (f" by {who}" if who else "")
    outcome = effect["outcome"]
    return "" if outcome is None else json.dumps(outcome, ensure_ascii=False)


def _turn_line(view: dict[str, Any], verb: str) -> None:
    console.print(f"{verb} {view['session_id']} / {view['turn_id']}: now {view['status']}", markup=False)


#: How long one request of ``turns result --server`` waits (under the client's own timeout).
RESULT_POLL_HTTP_S = 20.0


@turns_app.command("result")
def result(
    session_id: SessionArg,
    turn_id: TurnArg,
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="Give up after this many seconds (default: wait for the end)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Await a turn's end and print its result. Exit 1 with the turn's coded error
    (turn_cancelled for a cancelled turn), or turn_result_timeout when --timeout passes first."""
    target = _target(url, server, token)
    deadline = None if timeout is None else time.monotonic() + timeout
    chunk = RESULT_POLL_HTTP_S if target.server is not None else operations.MAX_RESULT_WAIT_S
    while True:
        left = chunk if deadline is None else max(0.0, min(chunk, deadline - time.monotonic()))
        if target.server is not None:
            query = {"session_id": session_id, "turn_id": turn_id, "timeout_s": f"{left:.3f}"}
            answer = target.http("GET", "/v1/turns/result", query)
        else:

            async def body(host: operations.AnyHost, wait_s: float = left) -> dict[str, Any]:
                return await operations.turn_result(host, session_id, turn_id, timeout_s=wait_s)

            answer = target.local(body, read=True)
        if answer["done"] or (deadline is not None and time.monotonic() >= deadline):
            break
    turn = answer["turn"]
    if as_json:
        emit_json(answer)
        if turn["status"] != "completed":
            raise typer.Exit(EXIT_ERROR)
        return
    if turn["status"] == "completed":
        console.print(json.dumps(turn["result"], ensure_ascii=False), markup=False)
    elif answer["done"]:
        error = turn["error"] or {}
        fail(str(error.get("code", ErrorCode.TURN_FAILED)), str(error.get("message", "the turn failed")))
    else:
        fail(
            ErrorCode.TURN_RESULT_TIMEOUT,
            f"turn {session_id!r}/{turn_id!r} did not end in {timeout:g} s; it goes on ({turn['status']})",
        )


@turns_app.command("start")
def start(
    name: Annotated[str, typer.Argument(help="The @durable_turn function's name.")],
    session_id: SessionArg,
    turn_id: Annotated[str, typer.Argument(help="The turn id: starting it again is a no-op.")],
    input_json: Annotated[str, typer.Option("--input", help="Keyword arguments as JSON, @file or -.")] = "{}",
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a turn for a worker to run (idempotent by session and turn id)."""
    from .common import parse_json_option

    given = parse_json_option(input_json, "--input")
    target = _target(url, server, token)
    if target.server is not None:
        answer = target.http(
            "POST",
            "/v1/turns",
            body={"name": name, "session_id": session_id, "turn_id": turn_id, "input": given},
        )
    else:

        async def body(host: Any) -> dict[str, Any]:  # a database's host or an engine's
            existed = await host.get_turn(session_id, turn_id)
            handle = await host.start_turn(name, session_id=session_id, turn_id=turn_id, input=given)
            return {"turn": operations.turn_view(await handle.info()), "created": existed is None}

        answer = target.local(body)
    if as_json:
        emit_json(answer)
    else:
        _turn_line(answer["turn"], "started" if answer["created"] else "already started:")


def _act(target: Target, path: str, body: dict[str, Any], local: Any, as_json: bool, verb: str) -> None:
    answer = target.http("POST", path, body=body) if target.server is not None else target.local(local)
    if as_json:
        emit_json(answer)
    else:
        _turn_line(answer["turn"], verb)


@turns_app.command("cancel")
def cancel(
    session_id: SessionArg,
    turn_id: TurnArg,
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel a turn: it ends now, or at its next effect if running; its waits resolve cancelled."""
    if not yes:
        typer.confirm(f"Cancel turn {session_id!r} / {turn_id!r}?", abort=True)

    async def body(host: Any) -> dict[str, Any]:  # a database's host or an engine's
        return {"turn": operations.turn_view(await host.cancel_turn(session_id, turn_id))}

    target = _target(url, server, token)
    _act(
        target, "/v1/turns/cancel", {"session_id": session_id, "turn_id": turn_id}, body, as_json, "cancelled"
    )


@turns_app.command("resume")
def resume(
    session_id: SessionArg,
    turn_id: TurnArg,
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a failed turn again from its failing effect (a worker picks it up)."""

    async def body(host: DurableEffectHost) -> dict[str, Any]:
        handle = await host.resume_turn(session_id, turn_id)
        return {"turn": operations.turn_view(await handle.info())}

    target = _target(url, server, token)
    target.refuse_on_engine("turns resume")
    _act(target, "/v1/turns/resume", {"session_id": session_id, "turn_id": turn_id}, body, as_json, "resumed")


@turns_app.command("fork")
def fork(
    session_id: SessionArg,
    turn_id: TurnArg,
    new_turn_id: Annotated[str, typer.Option("--new-turn-id", help="The fork's turn id.")],
    keep: Annotated[int, typer.Option("--keep", min=0, help="Keep this many first effects' outcomes.")],
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new turn that keeps the first --keep effects of this one and runs the rest."""

    async def body(host: DurableEffectHost) -> dict[str, Any]:
        handle = await host.fork_turn(session_id, turn_id, new_turn_id=new_turn_id, keep=keep)
        return {"turn": operations.turn_view(await handle.info())}

    target = _target(url, server, token)
    target.refuse_on_engine("turns fork")
    request = {"session_id": session_id, "turn_id": turn_id, "new_turn_id": new_turn_id, "keep": keep}
    _act(target, "/v1/turns/fork", request, body, as_json, "forked as")


# ---- waits ------------------------------------------------------------------------------------


@waits_app.command("list")
def list_waits(
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    session: Annotated[str | None, typer.Option(help="Only this session's waits.")] = None,
    after: Annotated[str | None, typer.Option(help="The cursor a previous page printed (next:).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many waits.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """What is waiting for a human right now, across sessions: question, turn, token."""
    target = _target(url, server, token)
    if target.server is not None:
        page = target.http("GET", "/v1/waits", {"session_id": session, "after": after, "limit": limit})
    else:

        async def body(host: operations.AnyHost) -> dict[str, Any]:
            return await operations.inbox(host, session_id=session, after=after, limit=limit)

        page = target.local(body, read=True)
    if as_json:
        emit_json(page)
        return
    if not page["waits"]:
        console.print("nothing is waiting", markup=False)
    for wait in page["waits"]:
        turn = wait["turn"]
        where = (
            f"turn {turn['session_id']} / {turn['turn_id']} ({turn['name']})"
            if turn
            else f"session {wait['session_id']}"
        )
        console.print(
            f"{wait['name'] or 'wait'} in {where}, since {when(wait['created_at_ms'])}", markup=False
        )
        if wait["question"] is not None:
            console.print(f"  question: {json.dumps(wait['question'], ensure_ascii=False)}", markup=False)
        console.print(f"  token: {wait['token']}", markup=False)  # whole, on its own line: copyable
    if page["next"]:
        console.print(f"next: {page['next']}", markup=False)


@waits_app.command("resolve")
def resolve(
    token_arg: Annotated[str, typer.Argument(metavar="KEY", help="The wait's token (ehk1.…).")],
    url: UrlOption = DEFAULT_URL,
    server: ServerOption = None,
    token: TokenOption = None,
    ok: Annotated[
        str | None, typer.Option("--ok", help="Approve with this JSON payload (@file, - for stdin).")
    ] = None,
    err: Annotated[str | None, typer.Option("--err", help="Reject with this error code.")] = None,
    message: Annotated[str, typer.Option("--message", help="The reason of an --err resolution.")] = "",
    raw: Annotated[
        str | None, typer.Option("--resolution", help="A whole Resolution as JSON (@file, -).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who resolves, for the record (local only).")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Approve or reject a wait (first writer wins). Exit 1 when the key cannot be resolved."""
    resolution: Resolution = resolution_of(ok, err, message, raw)
    target = _target(url, server, token)
    if target.server is not None:
        path = f"/v1/await-events/{urllib.parse.quote(token_arg, safe='')}/resolve"
        outcome = target.http("POST", path, body=resolution.to_json())
    else:
        try:
            key = AwaitEventKey.from_token(token_arg)
        except EffectHostError as exc:
            fail(exc.code, exc.message)

        async def body(host: operations.AnyHost) -> dict[str, Any]:
            return (await host.resolve_await_event(key, resolution, resolved_by=by)).to_json()

        outcome = target.local(body)
    if outcome.get("status") == "unknown_or_revoked":
        fail(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, "await-event key is invalid or revoked")
    if as_json:
        emit_json(outcome)
    else:
        console.print(outcome["status"], markup=False)
        if outcome.get("terminal") is not None:
            console.print(f"terminal: {json.dumps(outcome['terminal'])}", markup=False)


__all__ = ["turns_app", "waits_app"]
