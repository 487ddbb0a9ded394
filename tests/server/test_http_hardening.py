"""HTTP hardening over a real uvicorn on 127.0.0.1: security headers on every answer, JSON from
uvicorn's own protocol layer, bounded integer parameters, and 405 with Allow."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any

import httpx
import pytest
from raw_http import parse, port_of, until_closed
from server_support import AUTH, live_server, make_app

from effecthost import DurableEffectHost
from effecthost.server.openapi import openapi_document

pytestmark = pytest.mark.timeout(60)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _security_of(headers: Any) -> dict[str, str]:
    return {name: headers.get(name) for name in SECURITY}


async def test_every_answer_carries_the_security_headers(host_url: str, host: DurableEffectHost) -> None:
    async with live_server(make_app(host_url)) as base, httpx.AsyncClient(base_url=base) as client:
        answers = [
            await client.get("/"),
            await client.get("/static/app.js"),
            await client.get("/static/style.css"),
            await client.get("/static/favicon.svg"),
            await client.get("/healthz"),
            await client.get("/v1/openapi.json"),
            await client.get("/v1/sessions", headers=AUTH),
            await client.get("/v1/sessions"),  # 401
            await client.get("/v1/nothing"),  # 404
            await client.request("TRACE", "/v1/sessions"),  # 405
        ]
    assert [a.status_code for a in answers] == [200] * 7 + [401, 404, 405]
    for answer in answers:
        assert _security_of(answer.headers) == SECURITY, answer.url


@pytest.mark.parametrize(
    ("head", "status", "code"),
    [
        (b"POST /v1/sessions/cancel HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400,
         "request_content_length_invalid"),
        (b"POST /v1/sessions/cancel HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         400, "request_content_length_invalid"),
        (b"POST /v1/sessions/cancel HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
         "request_content_length_invalid"),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "request_malformed"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431, "request_head_too_large"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
         "request_transfer_encoding_unsupported"),
    ],
)  # fmt: skip
async def test_requests_uvicorn_itself_refuses_get_the_documented_json(
    host_url: str, host: DurableEffectHost, head: bytes, status: int, code: str
) -> None:
    async with live_server(make_app(host_url)) as base:
        response = parse(await until_closed(port_of(base), head))
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code


def _integer_parameters() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    found = []
    for path, ops in openapi_document()["paths"].items():
        for op in ops.values():
            params = op.get("parameters", [])
            for param in params:
                if param["schema"].get("type") == "integer":
                    found.append((path, param, params))
    return found


def test_every_integer_parameter_is_bounded_both_ways() -> None:
    found = _integer_parameters()
    assert {(path, p["name"]) for path, p, _ in found} == {
        ("/v1/sessions", "limit"),
        ("/v1/sessions", "offset"),
        ("/v1/effects", "limit"),
        ("/v1/effects", "offset"),
        ("/v1/turns", "limit"),
        ("/v1/turns", "since_ms"),
        ("/v1/turns", "until_ms"),
        ("/v1/waits", "limit"),
    }
    for path, param, _ in found:
        schema = param["schema"]
        assert isinstance(schema.get("minimum"), int), (path, param)
        assert isinstance(schema.get("maximum"), int), (path, param)


async def test_the_documented_bounds_are_the_handlers_bounds(
    host_url: str, host: DurableEffectHost
) -> None:
    async with live_server(make_app(host_url)) as base, httpx.AsyncClient(
        base_url=base, headers=AUTH
    ) as client:
        for path, param, params in _integer_parameters():
            # the other required parameters get a plain value (scope_key of /v1/effects)
            fixed = {p["name"]: "k" for p in params if p.get("required") and p is not param}
            low, high = param["schema"]["minimum"], param["schema"]["maximum"]
            for value, ok in ((low, True), (high, True), (low - 1, False), (high + 1, False)):
                answer = await client.get(path, params={**fixed, param["name"]: value})
                if ok:
                    assert answer.status_code == 200, (path, param["name"], value, answer.text)
                else:
                    got = (answer.status_code, answer.json()["code"])
                    assert got == (400, "invalid_parameter"), (path, param["name"], value)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/v1/sessions", "GET, HEAD"),
        ("/v1/sessions/cancel", "POST"),
        ("/v1/sessions/team/alice/await-events", "GET, HEAD"),
        ("/v1/await-events/ehk1.x/resolve", "POST"),
        ("/", "GET, HEAD"),
        ("/static/app.js", "GET, HEAD"),
    ],
)
@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "DELETE", "PATCH", "BREW"])
async def test_405_names_the_allowed_methods(
    host_url: str, host: DurableEffectHost, path: str, allow: str, method: str
) -> None:
    async with live_server(make_app(host_url)) as base, httpx.AsyncClient(base_url=base) as client:
        answer = await client.request(method, path, headers=AUTH)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"code": "method_not_allowed", "message": "Method Not Allowed"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_effecthost_serve_runs_uvicorn_hardened() -> None:
    """The CLI's server answers protocol errors in JSON and sends the headers (not just tests')."""
    port = _free_port()
    env = {**os.environ, "EFFECTHOST_ADMIN_TOKEN": "tok", "EFFECTHOST_URL": "memory://served"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "effecthost.cli", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:  # until the server listens; the test timeout bounds this
                try:
                    page = await client.get("/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        assert _security_of(page.headers) == SECURITY
        bad = b"POST /v1/sessions/cancel HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"
        response = parse(await until_closed(port, bad))
        assert (response.status, response.json()["code"]) == (400, "request_content_length_invalid")
    finally:
        server.terminate()
        await server.communicate()


async def test_a_head_just_under_the_limit_is_served(host_url: str, host: DurableEffectHost) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Big: " + b"a" * 15_000 + b"\r\n\r\n"
    async with live_server(make_app(host_url)) as base:
        response = parse(await until_closed(port_of(base), head))
    assert (response.status, response.json()) == (200, {"status": "ok"})
