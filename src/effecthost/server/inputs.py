"""Reading request bodies and parameters defensively: size limit, JSON, integers (auth: access.py)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import ApiError

MAX_JSON_DEPTH_MESSAGE = "request body is nested too deeply"
#: the paging bounds of every listing; the OpenAPI document states the same numbers
MAX_LIMIT, MAX_OFFSET = 1000, 10**9
#: the largest time (ms since the epoch) a filter takes: what every store's 64-bit column holds
MAX_MS = 2**62


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
        raise ApiError(400, "request_body_malformed", f"request body is not valid JSON: {exc}") from None


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


def opt_str(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return None if raw is None or raw == "" else raw


def opt_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_MS:
        raise ApiError(400, "invalid_parameter", f"{name} must be a non-negative integer")
    return int(raw)


def flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false")
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, "invalid_parameter", f"{name} must be true or false")
    return raw in ("true", "1")
