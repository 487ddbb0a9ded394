"""The /v1 handlers (session operations: sessions.py; turns and the inbox: console.py). Each one is
thin: parse, authorize, call the host, shape the answer."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
)
from ..views import effect_view, scope_view, session_view
from .access import require, require_resolver
from .errors import ApiError
from .inputs import MAX_LIMIT, MAX_OFFSET, int_param, read_json, str_param

#: The one answer to every key that cannot be resolved or peeked: malformed, forged, signed by
#: another substrate, unknown, or of a revoked session. One status and one body, so that neither
#: a guesser nor a webhook sender can tell them apart (and a sender sees a failure, not a 2xx).
UNKNOWN_KEY_MESSAGE = "no await event can be resolved with this key (unknown, revoked or not a key)"


def unknown_key() -> EffectHostError:
    return EffectHostError(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, UNKNOWN_KEY_MESSAGE)


def host_of(request: Request) -> DurableEffectHost:
    host: DurableEffectHost | None = getattr(request.app.state, "host", None)
    if host is None:
        raise ApiError(503, "not_ready", "the effect host is not open")
    return host


#: What a malformed token is checked as: a key of a real one's shape (a turn's wait, a key id of
#: the v3 form, random per process so it names no row, and a signature nobody made). A malformed
#: token then costs what a forged one does (the signature check and the store read) instead of
#: answering at once: its answer's timing tells nothing either. It can never be admitted (its
#: signature is not the substrate's), so it always ends in :func:`unknown_key`.
DECOY_KEY = AwaitEventKey(
    ExecutionScope.turn("effecthost-decoy-session", "decoy-turn"),
    WaitIdentity.tool_completion("decoy-call"),
    "await-event:v3:sha256:" + secrets.token_hex(32),
    "0" * 64,
)


def _key(request: Request) -> AwaitEventKey:
    """The path's key, or :data:`DECOY_KEY` for anything that is not a well-formed token."""
    try:
        return AwaitEventKey.from_token(request.path_params["token"])
    except EffectHostError:
        return DECOY_KEY


async def resolve(request: Request) -> JSONResponse:
    principal = require_resolver(request)
    key = _key(request)
    resolution = Resolution.from_json(await read_json(request, request.app.state.max_body_bytes))
    outcome = await host_of(request).resolve_await_event(key, resolution, resolved_by=principal.name)
    if outcome == ResolveOutcome.UNKNOWN_OR_REVOKED:
        raise unknown_key()
    return JSONResponse(outcome.to_json())


async def peek(request: Request) -> JSONResponse:
    require_resolver(request)
    key = _key(request)
    try:
        terminal = await host_of(request).peek_await_event(key)
    except EffectHostError as exc:
        if exc.code == ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED:
            raise unknown_key() from None
        raise
    if terminal is None:
        return JSONResponse({"status": "pending", "resolution": None})
    return JSONResponse({"status": "resolved", "resolution": terminal.to_json()})


def _paging(request: Request) -> tuple[int, int]:
    """``limit`` (1..1000, default 100) and ``offset`` (default 0) of a listing."""
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    return limit, int_param(request, "offset", 0, 0, MAX_OFFSET)


async def list_sessions(request: Request) -> JSONResponse:
    require(request, "viewer")
    limit, offset = _paging(request)
    sessions = await host_of(request).browser.list_sessions(limit=limit, offset=offset)
    body: dict[str, Any] = {"sessions": [session_view(s) for s in sessions], "limit": limit}
    body["offset"] = offset
    return JSONResponse(body)


async def list_scopes(request: Request) -> JSONResponse:
    require(request, "viewer")
    session_id = request.query_params.get("session_id") or None
    scopes = await host_of(request).browser.list_scopes(session_id)
    return JSONResponse({"session_id": session_id, "scopes": [scope_view(s) for s in scopes]})


async def list_effects(request: Request) -> JSONResponse:
    require(request, "viewer")
    scope_key = str_param(request, "scope_key")
    limit, offset = _paging(request)
    rows = await host_of(request).browser.list_effects(scope_key, limit=limit, offset=offset)
    return JSONResponse(
        {
            "scope_key": scope_key,
            "effects": [effect_view(r) for r in rows],
            "limit": limit,
            "offset": offset,
        }
    )


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    host = host_of(request)
    try:
        await host.browser.list_sessions(limit=1)  # a real round trip to the substrate
    except Exception as exc:  # any substrate failure means "not ready", never a 500
        raise ApiError(503, "not_ready", f"the substrate did not answer: {exc}") from None
    return JSONResponse({"status": "ready", "backend": host.backend})
