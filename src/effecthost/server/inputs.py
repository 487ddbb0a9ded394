"""Reading request bodies and parameters defensively: size limit, JSON, integers, auth."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request

from .errors import ApiError

MAX_JSON_DEPTH_MESSAGE = "request body is nested too deeply"
#: the paging bounds of every listing; the OpenAPI document states the same numbers
MAX_LIMIT, MAX_OFFSET = 1000, 10**9


async def read_json(request: Request, max_bytes: int) -> Any:
    """The body as JSON; 413 past ``max_bytes`` (checked while streaming, not only the header)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "request_content_length_invalid", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    if not body:
        raise ApiError(400, "request_body_missing", "a JSON request body is required")
    try:
        return json.loads(bytes(body).decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ApiError(400, "request_body_malformed", MAX_JSON_DEPTH_MESSAGE) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, "request_body_malformed", f"request body is not valid JSON: {exc}"
        ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "request_body_too_large", f"request body exceeds {max_bytes} bytes")


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer in [{low}, {high}]")
    return int(raw)


def str_param(request: Request, name: str) -> str:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        raise ApiError(400, "invalid_parameter", f"query parameter {name} is required")
    return raw


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(given: str | None, expected: str) -> bool:
    # compare_digest on bytes: constant time in the secret, and no TypeError on non-ASCII input
    return given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")
    )


def require_admin(request: Request) -> None:
    expected: str | None = request.app.state.admin_token
    if expected is None:
        raise ApiError(
            403, "admin_disabled", "admin operations are disabled: no admin token configured"
        )
    if not token_matches(bearer(request), expected):
        raise ApiError(
            401, "unauthorized", "admin operations need Authorization: Bearer <admin token>"
        )


def require_resolver(request: Request) -> None:
    """With a resolve token configured, resolve/peek need it (or the admin token) as bearer."""
    expected: str | None = request.app.state.resolve_token
    if expected is None:
        return
    given = bearer(request)
    admin: str | None = request.app.state.admin_token
    if token_matches(given, expected) or (admin is not None and token_matches(given, admin)):
        return
    raise ApiError(401, "unauthorized", "resolving needs Authorization: Bearer <resolve token>")
