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

from .. import operations
from ..operations import AnyHost
from ..views import await_key_view
from .access import Principal, require
from .errors import ApiError
from .inputs import flag, read_json, str_param
from .routes import any_host_of

#: Where a request names its session, and whether it asks to force a safeguard.
Source = Callable[[Request], Awaitable[tuple[str, bool]]]
Operation = Callable[[AnyHost, str, bool, Principal], Awaitable[dict[str, Any]]]
BODY_SHAPE = 'the body must be {"session_id": "<session id>"} (and optionally "force": true) and nothing else'


async def from_path(request: Request) -> tuple[str, bool]:
    session_id: str = request.path_params["session_id"]
    return session_id, flag(request, "force")


async def from_query(request: Request) -> tuple[str, bool]:
    return str_param(request, "session_id"), flag(request, "force")


async def from_body(request: Request) -> tuple[str, bool]:
    body = await read_json(request, request.app.state.max_body_bytes)
    # unknown keys are refused, not ignored: a misspelt field must not act on some other session
    if not isinstance(body, dict) or not {"session_id"} <= set(body) <= {"session_id", "force"}:
        raise ApiError(400, "invalid_parameter", BODY_SHAPE)
    session_id, force = body["session_id"], body.get("force", False)
    if not isinstance(session_id, str) or not isinstance(force, bool):
        raise ApiError(400, "invalid_parameter", BODY_SHAPE)
    return session_id, force


async def waits(host: AnyHost, session_id: str, _: bool, __: Principal) -> dict[str, Any]:
    keys = await host.list_outstanding_await_event_keys(session_id)
    return {"session_id": session_id, "await_events": [await_key_view(k) for k in keys]}


async def cancel(host: AnyHost, session_id: str, _: bool, who: Principal) -> dict[str, Any]:
    return await operations.cancel_waits(host, session_id, by=who.name)


async def revoke(host: AnyHost, session_id: str, force: bool, _: Principal) -> dict[str, Any]:
    return await operations.revoke_session(host, session_id, force=force)


async def retire(host: AnyHost, session_id: str, force: bool, _: Principal) -> dict[str, Any]:
    return await operations.retire_session(host, session_id, force=force)


#: The role each operation needs: listing waits is reading; the rest act on the session.
ROLES: dict[Operation, str] = {waits: "viewer", cancel: "admin", revoke: "admin", retire: "admin"}


def endpoint(operation: Operation, source: Source) -> Callable[[Request], Awaitable[JSONResponse]]:
    role = ROLES[operation]

    async def handle(request: Request) -> JSONResponse:
        who = require(request, role)  # before the body is read: strangers get nothing parsed
        session_id, force = await source(request)
        return JSONResponse(await operation(any_host_of(request), session_id, force, who))

    handle.__name__ = f"{operation.__name__}_{source.__name__}"
    return handle
