"""The operator console's /v1 handlers: turns (list, get with timeline, start, cancel, resume,
fork) and the inbox of waits across sessions. The work is :mod:`effecthost.operations`; here are
parsing, roles and status codes.

Turn ids, like session ids, are any strings: they travel in the query (``GET``) or a JSON body
(``POST``), never in the path (see sessions.py for why).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import operations
from ..operations import turn_view
from .access import require
from .errors import ApiError
from .inputs import MAX_LIMIT, int_param, opt_int, opt_str, read_json, str_param
from .routes import any_host_of, host_of

_ORDERS = ("newest", "oldest")


async def list_turns(request: Request) -> JSONResponse:
    require(request, "viewer")
    order = request.query_params.get("order", "newest")
    if order not in _ORDERS:
        raise ApiError(400, "invalid_parameter", "order must be newest or oldest")
    body = await operations.list_turns(
        any_host_of(request),
        session_id=opt_str(request, "session_id"),
        status=opt_str(request, "status"),
        name=opt_str(request, "name"),
        since_ms=opt_int(request, "since_ms"),
        until_ms=opt_int(request, "until_ms"),
        search=opt_str(request, "q"),
        after=opt_str(request, "after"),
        oldest_first=order == "oldest",
        limit=int_param(request, "limit", 50, 1, MAX_LIMIT),
    )
    return JSONResponse(body)


async def get_turn(request: Request) -> JSONResponse:
    require(request, "viewer")
    detail = await operations.turn_detail(
        any_host_of(request), str_param(request, "session_id"), str_param(request, "turn_id")
    )
    return JSONResponse(detail)


async def turn_result(request: Request) -> JSONResponse:
    """Wait up to ``timeout_s`` seconds (default 0, at most 60) for the turn to end; ``done``
    says whether it had. A client waiting longer asks again."""
    require(request, "viewer")
    raw = request.query_params.get("timeout_s", "0")
    try:
        timeout_s = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", "timeout_s is a number of seconds") from None
    if not 0 <= timeout_s <= operations.MAX_RESULT_WAIT_S:
        raise ApiError(
            400, "invalid_parameter", f"timeout_s is in [0, {operations.MAX_RESULT_WAIT_S:g}] seconds"
        )
    body = await operations.turn_result(
        any_host_of(request),
        str_param(request, "session_id"),
        str_param(request, "turn_id"),
        timeout_s=timeout_s,
    )
    return JSONResponse(body)


async def _body(
    request: Request, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    body = await read_json(request, request.app.state.max_body_bytes)
    shape = f"the body is a JSON object with {', '.join(sorted(required))}" + (
        f" and optionally {', '.join(sorted(optional))}" if optional else ""
    )
    # unknown keys are refused, not ignored: a misspelt field must not act on some other turn
    if not isinstance(body, dict) or not required <= set(body) <= required | optional:
        raise ApiError(400, "invalid_parameter", shape)
    for name in required | optional:
        if name in body and name not in ("input", "keep", "force") and not isinstance(body[name], str):
            raise ApiError(400, "invalid_parameter", f"{name} must be a string")
    return body


async def start_turn(request: Request) -> JSONResponse:
    """Start a turn by name; ``turn_id`` (or the ``Idempotency-Key`` header) names the run, so a
    retried request starts it once (the same id with other input: ``turn_start_conflict``)."""
    require(request, "admin")
    body = await _body(request, frozenset({"name", "session_id"}), frozenset({"turn_id", "input"}))
    turn_id = body.get("turn_id") or request.headers.get("idempotency-key")
    if not turn_id:
        raise ApiError(400, "invalid_parameter", "a turn needs turn_id (or an Idempotency-Key header)")
    host = any_host_of(request)
    existed = await host.get_turn(body["session_id"], turn_id)
    handle = await host.start_turn(
        body["name"], session_id=body["session_id"], turn_id=turn_id, input=body.get("input")
    )
    info = await handle.info()
    status = 200 if existed else 201
    return JSONResponse({"turn": turn_view(info), "created": existed is None}, status_code=status)


async def cancel_turn(request: Request) -> JSONResponse:
    require(request, "admin")
    body = await _body(request, frozenset({"session_id", "turn_id"}))
    info = await any_host_of(request).cancel_turn(body["session_id"], body["turn_id"])
    return JSONResponse({"turn": turn_view(info)})


async def resume_turn(request: Request) -> JSONResponse:
    require(request, "admin")
    body = await _body(request, frozenset({"session_id", "turn_id"}))
    handle = await host_of(request).resume_turn(body["session_id"], body["turn_id"])
    return JSONResponse({"turn": turn_view(await handle.info())})


async def fork_turn(request: Request) -> JSONResponse:
    """A new turn that keeps the first ``keep`` effects of ``turn_id`` and runs the rest."""
    require(request, "admin")
    body = await _body(request, frozenset({"session_id", "turn_id", "new_turn_id", "keep"}))
    keep = body["keep"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ApiError(400, "invalid_parameter", "keep is a number of effects >= 0")
    handle = await host_of(request).fork_turn(
        body["session_id"], body["turn_id"], new_turn_id=body["new_turn_id"], keep=keep
    )
    return JSONResponse({"turn": turn_view(await handle.info())}, status_code=201)


async def list_waits(request: Request) -> JSONResponse:
    require(request, "viewer")
    body = await operations.inbox(
        any_host_of(request),
        session_id=opt_str(request, "session_id"),
        after=opt_str(request, "after"),
        limit=int_param(request, "limit", 50, 1, MAX_LIMIT),
    )
    return JSONResponse(body)


async def changes(request: Request) -> JSONResponse:
    """The cheap change feed: a token that moves when live turns or waits change."""
    require(request, "viewer")
    return JSONResponse(await operations.changes(any_host_of(request)))
