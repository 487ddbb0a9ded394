"""Every failure becomes JSON ``{"code", "message"}`` with a fitting status, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._private.core.errors import EffectHostError, ErrorCode

log = logging.getLogger("effecthost.server")


class ApiError(Exception):
    """An HTTP-level refusal (auth, body, parameters) with a stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


#: Library codes whose HTTP status is not the default 400.
_STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED.value: 404,
    ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID.value: 422,
    # the body was within the HTTP limit, but the resolution exceeds the store's payload limit
    ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE.value: 413,
    ErrorCode.HOST_CLOSED.value: 503,
}
_UNAVAILABLE_SUFFIXES = ("_store", "_lease_lost")


def status_for(code: str) -> int:
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    if code.startswith("canonical_json_"):
        return 422  # a well-formed body whose payload cannot be journaled
    if code.endswith(_UNAVAILABLE_SUFFIXES):
        return 503  # the substrate failed, not the request
    return 400


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


async def api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def host_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, EffectHostError)
    return error_response(status_for(exc.code), exc.code, exc.message)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    response = error_response(exc.status_code, code, str(exc.detail))
    # Starlette puts the route's methods in Allow (a 405 must carry it); it joins a set, so the
    # order is sorted here to answer the same bytes every time.
    for name, value in (exc.headers or {}).items():
        if name.lower() == "allow":
            value = ", ".join(sorted(m.strip() for m in value.split(",")))
        response.headers[name] = value
    return response


async def unexpected_error(_: Request, exc: Exception) -> Response:
    # Logged server-side with its traceback; the client only learns that something broke.
    log.error("unexpected error in effecthost server", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


HANDLERS = {
    ApiError: api_error,
    EffectHostError: host_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
