"""How ``effecthost serve`` runs uvicorn: its own refusals answer JSON, and slow heads are cut off.

uvicorn's HTTP layer (h11) rejects some requests before the app sees them: a malformed
``Content-Length``, a bad request line, a head above ``MAX_HEAD_BYTES``. Stock uvicorn answers those
``text/plain``; this protocol answers the documented JSON ``{"code", "message"}``. uvicorn also has
no deadline for a request head (its keep-alive timer restarts on every byte), so a client sending
one header byte a second holds a connection for hours: here the head must be complete within
``head_timeout_s`` of the connection opening or going idle. (The body has its deadline in the app:
``middleware.BodyDeadline``.)
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .middleware import SECURITY_HEADERS

_HEAD_END = re.compile(rb"\n\r?\n")
DEFAULT_HEAD_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5  # uvicorn's default, stated here so `serve` does not drift with uvicorn
MAX_HEAD_BYTES = 16 * 1024  # a request head's limit (h11's default), counted here for every head


def _refusal(exc: BaseException | None) -> tuple[int, str, str]:
    """Status, code and message for what h11 refused."""
    if not isinstance(exc, h11.ProtocolError):
        return 400, "request_malformed", "invalid HTTP request"
    text, status = str(exc), exc.error_status_hint
    if "Content-Length" in text:
        return 400, "request_content_length_invalid", f"invalid HTTP request: {text}"
    if status == 431:
        return 431, "request_head_too_large", f"the request head exceeds {MAX_HEAD_BYTES} bytes"
    if status == 501:
        return 501, "request_transfer_encoding_unsupported", f"invalid HTTP request: {text}"
    return 400, "request_malformed", f"invalid HTTP request: {text}"


def _head_too_large(buffered: bytes) -> bool:
    """True once the bytes awaiting a request head hold more than MAX_HEAD_BYTES before its end.

    h11's own limit counts only a head that is still incomplete, so a big head arriving in one
    read would pass; this counts every head. h11 ends a head at a blank line, CRLF or bare LF.
    """
    return len(buffered) > MAX_HEAD_BYTES and not _HEAD_END.search(buffered, 0, MAX_HEAD_BYTES + 4)


class JsonH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with JSON refusals and a request-head deadline."""

    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        if self.conn.their_state is h11.IDLE and _head_too_large(self.conn.trailing_data[0]):
            message = f"the request head exceeds {MAX_HEAD_BYTES} bytes"
            self._answer_and_close(431, "request_head_too_large", message)
            return
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a whole head arrived: from here the body deadline applies
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle and not self.transport.is_closing():
            self._arm_head_deadline()  # idle again: the next head gets the same deadline

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this inside its `except h11.RemoteProtocolError` block, so the exception
        # being handled says what was wrong; with anything else the answer is the generic one.
        self._answer_and_close(*_refusal(sys.exc_info()[1]))

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        partial, _ = self.conn.trailing_data
        if not partial:  # an idle connection: close quietly, as a keep-alive timeout does
            self.transport.close()
            return
        message = f"the request head did not arrive within {self.head_timeout_s:g} s"
        self._answer_and_close(408, "request_head_timeout", message)

    def _answer_and_close(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"code": code, "message": message}).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
            *SECURITY_HEADERS,
        ]
        reason = HTTPStatus(status).phrase.encode("ascii")
        try:
            for event in (
                h11.Response(status_code=status, headers=headers, reason=reason),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:
            pass  # a response is already under way: closing is all that is left
        self.transport.close()


def protocol_class(head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S) -> type[JsonH11Protocol]:
    # uvicorn builds the protocol itself from a class: the setting travels as a class attribute
    return type("JsonH11Protocol", (JsonH11Protocol,), {"head_timeout_s": head_timeout_s})


def uvicorn_options(head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` / ``uvicorn.run`` that ``effecthost serve`` uses."""
    return {
        "http": protocol_class(head_timeout_s),
        # no WebSocket routes: an upgrade request is served as plain HTTP (and gets a 404)
        "ws": "none",
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }
