"""Session operations (outstanding waits, cancel, revoke, retire), each reachable two ways.

The path form (``/v1/sessions/{id}/cancel``) is kept for API clients, but a URL path cannot carry
every id: clients remove ``.`` and ``..`` segments (``%2e`` too) before sending, so
``evil/../victim`` would reach ``victim``. The query form (``GET /v1/await-events?session_id=``)
and the JSON body form (``POST /v1/sessions/cancel`` with ``{"session_id": ...}``) carry any string
verbatim; the page uses only those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import DurableEffectHost, JournalRetirement
from ..views import await_key_view
from .errors import ApiError
from .inputs import read_json, require_admin, str_param
from .routes import host_of

Source = Callable[[Request], Awaitable[str]]
Operation = Callable[[DurableEffectHost, str], Awaitable[dict[str, Any]]]
BODY_SHAPE = 'the body must be {"session_id": "<session id>"} and nothing else'


async def from_path(request: Request) -> str:
    session_id: str = request.path_params["session_id"]
    return session_id


async def from_query(request: Request) -> str:
    return str_param(request, "session_id")


async def from_body(request: Request) -> str:
    body = await read_json(request, request.app.state.max_body_bytes)
    # unknown keys are refused, not ignored: a misspelt field must not act on some other session
    if not isinstance(body, dict) or set(body) != {"session_id"}:
        raise ApiError(400, "invalid_parameter", BODY_SHAPE)
    session_id = body["session_id"]
    if not isinstance(session_id, str):
        raise ApiError(400, "invalid_parameter", BODY_SHAPE)
    return session_id


async def waits(host: DurableEffectHost, session_id: str) -> dict[str, Any]:
    keys = await host.list_outstanding_await_event_keys(session_id)
    return {"session_id": session_id, "await_events": [await_key_view(k) for k in keys]}


async def cancel(host: DurableEffectHost, session_id: str) -> dict[str, Any]:
    await host.cancel_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "cancelled"}


async def revoke(host: DurableEffectHost, session_id: str) -> dict[str, Any]:
    await host.revoke_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "revoked"}


async def retire(host: DurableEffectHost, session_id: str) -> dict[str, Any]:
    retired = await host.retire_effect_journal(JournalRetirement.session(session_id))
    return {"session_id": session_id, "retired_rows": retired}


def endpoint(operation: Operation, source: Source) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def handle(request: Request) -> JSONResponse:
        require_admin(request)  # before the body is read: strangers get nothing parsed
        session_id = await source(request)
        return JSONResponse(await operation(host_of(request), session_id))

    handle.__name__ = f"{operation.__name__}_{source.__name__}"
    return handle
