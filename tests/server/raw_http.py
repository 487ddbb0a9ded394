"""Raw HTTP/1.1 over asyncio streams, for what httpx will not send (or would wait out politely)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split(" ")[1]), headers, body)


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


async def read_to_close(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection.

    A server closing while our bytes sit unread in its socket makes the kernel send a reset
    after the answer (uvicorn has no lingering close): that is a close too, and what arrived
    before it is kept, which ``reader.read()`` would throw away.
    """
    received = bytearray()
    while True:
        try:
            chunk = await reader.read(65536)
        except ConnectionResetError:
            return bytes(received)
        if not chunk:
            return bytes(received)
        received += chunk


async def until_closed(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_to_close(reader)
    finally:
        writer.close()


async def dribble_until_closed(port: int, head: bytes, byte: bytes = b" ") -> bytes:
    """Send ``head``, then one byte every 0.25 s until the server closes; what it sent back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        answer = asyncio.ensure_future(read_to_close(reader))
        while not answer.done():
            try:
                writer.write(byte)
                await writer.drain()
            except ConnectionError:
                break  # closed under our write: the answer (if any) is already in the buffer
            await asyncio.wait({answer}, timeout=0.25)
        return await answer
    finally:
        writer.close()
