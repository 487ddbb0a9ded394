"""Every failure becomes JSON ``{"code", "message"}`` with a fitting status, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import EffectHostError, traits_of

log = logging.getLogger("effecthost.server")


class ApiError(Exception):
    """An HTTP-level refusal (auth, body, parameters) with a stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


#: A code that is not effecthost's (an executor's own error, journaled and replayed verbatim).
_UNKNOWN_CODE_STATUS = 400


def status_for(code: str) -> int:
    """The status a code carries as data next to it (``traits_of``); 400 for codes that are not ours."""
    traits = traits_of(code)
    return _UNKNOWN_CODE_STATUS if traits is None else traits.status


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
