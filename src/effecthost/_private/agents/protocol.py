"""The model-client protocol, and the streaming sink a caller hands to an agent.

A client is anything with a ``model`` (the id journaled in each ``llm_call``, such as
``openai:gpt-4o-mini``) and ``async request(request, on_text=None) -> ModelResponse``. When
``on_text`` is given the client streams and calls it with each text delta as it arrives; it still
returns the whole response. Deltas are never journaled: the response is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, runtime_checkable

from .messages import ModelRequest, ModelResponse

#: Called with each text delta while a response streams.
TextCallback = Callable[[str], Awaitable[None]]

_log = logging.getLogger("effecthost.agents")


@runtime_checkable
class ModelClient(Protocol):
    """One model behind one small protocol: a request in, a response (text, tool calls, usage) out.

    Raise ``EffectHostError`` with ``model_unavailable`` for what can succeed later (429, 5xx, no
    connection: the agent's retry policy retries it) and ``model_request_rejected`` for what
    cannot (any other 4xx)."""

    @property
    def model(self) -> str: ...

    async def request(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse: ...


@dataclasses.dataclass(frozen=True, slots=True)
class StreamDelta:
    """A piece of a model's text, for a UI. ``request`` numbers the agent's model requests in the
    turn (from 1). ``replayed``: the request was answered from the journal, and ``text`` is its
    whole recorded text, delivered once."""

    agent: str
    request: int
    text: str
    replayed: bool = False


#: What a caller gives ``Agent.run(stream=...)``: a callback (sync or async), or a DeltaStream.
StreamSink = Callable[[StreamDelta], Awaitable[None] | None]


class DeltaStream:
    """A sink that is also an async iterator: ``async for delta in stream`` in another task.
    ``close()`` ends the iteration (``Agent.run`` never closes a sink it was given)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[StreamDelta | None] = asyncio.Queue()

    def __call__(self, delta: StreamDelta) -> None:
        self._queue.put_nowait(delta)

    def close(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[StreamDelta]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamDelta]:
        while (delta := await self._queue.get()) is not None:
            yield delta


async def deliver(sink: StreamSink, delta: StreamDelta) -> bool:
    """Hand ``delta`` to ``sink``. A sink that raises is a display's bug, not the model's: it is
    logged and reported (False) so the caller stops using it, and the turn goes on."""
    try:
        result = sink(delta)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _log.exception("the stream sink raised; no further deltas go to it in this run")
        return False
    return True
