"""Slow clients cannot hold connections: deadlines for request bodies (app) and heads (protocol).

Real sockets against a real uvicorn on 127.0.0.1, run as `effecthost serve` runs it, with short
deadlines configured so the test does not wait long.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from raw_http import dribble_until_closed, parse, port_of, read_to_close, until_closed
from server_support import AUTH, live_server, make_app, park_turn

from effecthost import DurableEffectHost, EffectHostError, Resolution
from effecthost.server import create_app

pytestmark = pytest.mark.timeout(60)

SLOW = 50


def _head(path: str, length: int = 1000) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def test_slow_bodies_get_408_and_are_closed_while_other_requests_are_served(
    host_url: str, host: DurableEffectHost
) -> None:
    async with live_server(make_app(host_url, body_timeout_s=1)) as base:
        slow = await park_turn(host, "s-slow")
        normal = await park_turn(host, "s-normal")
        path = f"/v1/await-events/{slow.key.to_token()}/resolve"
        port = port_of(base)
        dribblers = [asyncio.create_task(dribble_until_closed(port, _head(path))) for _ in range(SLOW)]
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                assert (await client.get("/healthz")).json() == {"status": "ok"}
                token = normal.key.to_token()
                answer = await client.post(f"/v1/await-events/{token}/resolve", json={"status": "timeout"})
                assert answer.json() == {"status": "accepted"}
                assert (await normal.task).resolution == Resolution.TIMEOUT  # type: ignore[attr-defined]
            answers = [parse(raw) for raw in await asyncio.gather(*dribblers)]
        finally:
            for task in dribblers:
                task.cancel()
            slow.task.cancel()
    for response in answers:  # each one answered, then closed (dribble_until_closed read to EOF)
        assert response.status == 408
        assert response.headers["content-type"] == "application/json"
        assert response.headers["connection"] == "close"
        assert response.json() == {
            "code": "request_body_timeout",
            "message": "the request body did not arrive within 1 s",
        }


async def test_a_body_the_route_never_reads_does_not_hold_the_connection(
    host_url: str, host: DurableEffectHost
) -> None:
    """The path-form cancel never reads a body: it answers at once, and the server then closes the
    connection instead of reading on. The body deadline is an hour, so only that close ends the
    dribble (on the old code this test hangs until its timeout)."""
    async with live_server(make_app(host_url, body_timeout_s=3600)) as base:
        turn = await park_turn(host, "s-unread")
        auth = f"Authorization: {AUTH['Authorization']}\r\n".encode()
        head = _head("/v1/sessions/s-unread/cancel").replace(b"\r\n\r\n", b"\r\n" + auth + b"\r\n")
        try:
            response = parse(await dribble_until_closed(port_of(base), head))
            assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
        finally:
            turn.task.cancel()
    assert response.status == 200
    assert response.headers["connection"] == "close"
    assert response.json() == {"session_id": "s-unread", "status": "cancelled", "cancelled": 1}


async def test_slow_and_idle_heads_are_cut_off(host_url: str, host: DurableEffectHost) -> None:
    async with live_server(make_app(host_url), head_timeout_s=1) as base:
        port = port_of(base)
        idle, dribbled, after_keep_alive = await asyncio.gather(
            until_closed(port, b""),
            dribble_until_closed(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X"),
            _dribble_after_one_request(port),
        )
        async with httpx.AsyncClient(base_url=base) as client:  # the server still serves
            assert (await client.get("/healthz", headers=AUTH)).status_code == 200
    assert idle == b""  # a connection that never sent a byte is closed without an answer
    for raw in (dribbled, after_keep_alive):
        response = parse(raw)
        assert response.status == 408
        assert response.headers["connection"] == "close"
        assert response.json() == {
            "code": "request_head_timeout",
            "message": "the request head did not arrive within 1 s",
        }


async def _dribble_after_one_request(port: int) -> bytes:
    """A keep-alive connection: one whole request and its answer, then a dribbled second head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        first = parse(await reader.readuntil(b"\r\n\r\n"))
        assert first.status == 200
        await reader.readexactly(int(first.headers["content-length"]))
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        answer = asyncio.ensure_future(read_to_close(reader))
        while not answer.done():
            try:
                writer.write(b"X")
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait({answer}, timeout=0.25)
        return await answer
    finally:
        writer.close()


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "10"])
def test_create_app_refuses_a_bad_body_timeout(bad: object) -> None:
    with pytest.raises(EffectHostError) as caught:
        create_app("memory://x", admin_token="a", body_timeout_s=bad)  # type: ignore[arg-type]
    assert caught.value.code == "host_option_invalid"
