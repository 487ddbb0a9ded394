"""The /v1 handlers (session operations: sessions.py; turns and the inbox: console.py). Each one is
thin: parse, authorize, call the host, shape the answer."""

from __future__ import annotations

import secrets

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
    operations,
)
from ..engines import operations as on_engine
from ..operations import AnyHost
from ..views import scope_view
from .access import require, require_resolver
from .errors import ApiError
from .inputs import MAX_LIMIT, MAX_OFFSET, int_param, read_json, str_param

#: The one answer to every key that cannot be resolved or peeked: malformed, forged, signed by
#: another substrate, unknown, or of a revoked session. One status and one body, so that neither
#: a guesser nor a webhook sender can tell them apart (and a sender sees a failure, not a 2xx).
UNKNOWN_KEY_MESSAGE = "no await event can be resolved with this key (unknown, revoked or not a key)"


def unknown_key() -> EffectHostError:
    return EffectHostError(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, UNKNOWN_KEY_MESSAGE)


def any_host_of(request: Request) -> AnyHost:
    """The open host: a database's, or an engine's deployment side (``restate://``, ...)."""
    host: AnyHost | None = getattr(request.app.state, "host", None)
    if host is None:
        raise ApiError(503, "not_ready", "the effect host is not open")
    return host


def host_of(request: Request) -> DurableEffectHost:
    """The open host, for routes only a database's host serves (journal browsing, resume, fork):
    on an engine they answer ``turns_unsupported``."""
    host = any_host_of(request)
    if not isinstance(host, DurableEffectHost):
        raise on_engine.unsupported(host, f"{request.method} {request.url.path}")
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
    outcome = await any_host_of(request).resolve_await_event(key, resolution, resolved_by=principal.name)
    if outcome == ResolveOutcome.UNKNOWN_OR_REVOKED:
        raise unknown_key()
    return JSONResponse(outcome.to_json())


async def peek(request: Request) -> JSONResponse:
    require_resolver(request)
    key = _key(request)
    try:
        terminal = await any_host_of(request).peek_await_event(key)
    except EffectHostError as exc:
        if exc.code == ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED:
            raise unknown_key() from None
        raise
    if terminal is None:
        return JSONResponse({"status": "pending", "resolution": None})
    return JSONResponse({"status": "resolved", "resolution": terminal.to_json()})


def _paging(request: Request) -> tuple[int, int, str | None]:
    """``limit`` (1..1000, default 100), ``offset`` (default 0: the older paging, kept working)
    and ``after`` (a previous page's ``next``: keyset paging) of a listing; ``after`` with an
    ``offset`` is refused."""
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)
    after = request.query_params.get("after")
    if after is not None and "offset" in request.query_params:
        raise ApiError(400, "invalid_parameter", "page by after (a cursor) or by offset, not both")
    return limit, offset, after


async def list_sessions(request: Request) -> JSONResponse:
    require(request, "viewer")
    limit, offset, after = _paging(request)
    body = await operations.list_sessions(host_of(request), after=after, limit=limit, offset=offset)
    return JSONResponse({**body, "limit": limit, "offset": offset})


async def list_scopes(request: Request) -> JSONResponse:
    require(request, "viewer")
    session_id = request.query_params.get("session_id") or None
    scopes = await host_of(request).browser.list_scopes(session_id)
    return JSONResponse({"session_id": session_id, "scopes": [scope_view(s) for s in scopes]})


async def list_effects(request: Request) -> JSONResponse:
    require(request, "viewer")
    scope_key = str_param(request, "scope_key")
    limit, offset, after = _paging(request)
    body = await operations.list_effects(host_of(request), scope_key, after=after, limit=limit, offset=offset)
    return JSONResponse({**body, "limit": limit, "offset": offset})


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    host = any_host_of(request)
    try:  # a real round trip to the substrate (or the engine)
        if isinstance(host, DurableEffectHost):
            await host.browser.list_sessions(limit=1)
        else:
            await host.list_turns(limit=1)
    except Exception as exc:  # any substrate failure means "not ready", never a 500
        raise ApiError(503, "not_ready", f"the substrate did not answer: {exc}") from None
    backend = host.backend if isinstance(host, DurableEffectHost) else host.engine
    return JSONResponse({"status": "ready", "backend": backend})
