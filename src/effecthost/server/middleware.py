"""ASGI wrappers around the whole app: a deadline for request bodies, and security headers.

They wrap Starlette's outermost layer (see ``app.EffectHostApp``), so even a 500 from Starlette's
error middleware carries the headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError

if TYPE_CHECKING:
    from .metrics import Metrics

_request_log = logging.getLogger("effecthost.server.requests")

#: The page loads only its own script, style and icon and talks only to its own origin: anything
#: else (an injected inline script, a framing site, a sniffed content type) is refused.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # ?token=... may sit in the address bar for a moment: never send it on in a Referer
    (b"referrer-policy", b"no-referrer"),
]
_CLOSE = (b"connection", b"close")


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _expects_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"


class BodyDeadline:
    """The whole request body must arrive within ``timeout_s`` of the request head.

    A late body ends in 408 ``request_body_timeout``. Any response sent before the body was read to
    its end carries ``Connection: close``: the server then drops the connection instead of reading
    (and waiting for) a body nobody will use, so a client dribbling bytes cannot hold it open.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        state = {"body_done": not _expects_body(scope)}

        async def receive_in_time() -> Message:
            if state["body_done"]:
                return await receive()  # only http.disconnect is left: no deadline on that
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise ApiError(
                    408,
                    "request_body_timeout",
                    f"the request body did not arrive within {self.timeout_s:g} s",
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["body_done"] = True
            return message

        async def send_closing_early(message: Message) -> None:
            if message["type"] == "http.response.start" and not state["body_done"]:
                headers: list[Any] = [*message.get("headers", []), _CLOSE]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive_in_time, send_closing_early)


class RequestLog:
    """One log line per HTTP request under ``effecthost.server.requests`` (INFO): method, path,
    status, duration. The query string is never logged (``?token=`` may carry the admin token).
    With metrics on, each request is also recorded in ``http.server.request.duration``."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 500}

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            seconds = time.perf_counter() - started
            method, path, status = scope["method"], scope["path"], state["status"]
            if self.metrics is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or "_OTHER"
                self.metrics.record_request(method, str(template), status, seconds)
            if _request_log.isEnabledFor(logging.INFO):
                duration_ms = round(seconds * 1000, 3)
                fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
                _request_log.info(
                    "%s %s %d %.1f ms", method, path, status, seconds * 1000, extra={"effecthost": fields}
                )
