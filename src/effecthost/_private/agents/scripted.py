"""A scripted model: deterministic answers, for the demo, tests and examples.

Its answer to a request depends only on the request (how many answers the conversation already
holds), never on what this process did before, so a crashed turn driven again in another process
gets the same answers. ``requests`` counts what this object was really asked (a replayed model
request asks nothing).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..core import canonical
from ..core.errors import EffectHostError, ErrorCode
from .messages import ModelRequest, ModelResponse, ToolCallPart, Usage
from .protocol import TextCallback

Script = Sequence[ModelResponse] | Callable[[ModelRequest], ModelResponse]


class ScriptedModel:
    """``ScriptedModel([reply, ...])`` answers the n-th request of a conversation (n = the number of
    assistant messages already in it) with ``reply[n]``; ``ScriptedModel(fn)`` answers with
    ``fn(request)``. Usage is counted as a provider would roughly count it (4 characters a token)
    unless a reply carries its own. Streaming splits the text at spaces."""

    def __init__(self, script: Script, *, name: str = "scripted", delay_s: float = 0.0) -> None:
        self._script = script
        self._name = name
        self._delay_s = delay_s
        #: Requests this object answered (a replayed request is not one).
        self.requests = 0

    @property
    def model(self) -> str:
        return f"scripted:{self._name}"

    async def request(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        self.requests += 1
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        reply = self._reply(request)
        if reply.usage == Usage():
            reply = ModelResponse(
                reply.text, reply.tool_calls, _estimate(request, reply), reply.stop_reason, reply.model
            )
        if reply.stop_reason is None or reply.model is None:
            reply = ModelResponse(
                reply.text,
                reply.tool_calls,
                reply.usage,
                reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop"),
                reply.model or self.model,
            )
        if on_text is not None and reply.text:
            words = reply.text.split(" ")
            for index, word in enumerate(words):
                await on_text(word if index == len(words) - 1 else word + " ")
        return reply

    def _reply(self, request: ModelRequest) -> ModelResponse:
        if callable(self._script):
            return self._script(request)
        answered = sum(1 for message in request.messages if message.get("role") == "assistant")
        if answered >= len(self._script):
            raise EffectHostError(
                ErrorCode.MODEL_RESPONSE_INVALID,
                f"the scripted model {self._name!r} has {len(self._script)} replies; request"
                f" {answered + 1} has none",
            )
        return self._script[answered]


def reply(text: str) -> ModelResponse:
    """A final answer."""
    return ModelResponse(text=text)


def call(name: str, arguments: dict[str, Any] | str, *, id: str) -> ToolCallPart:
    """A tool call, for :func:`calls`."""
    return ToolCallPart(id, name, arguments)


def calls(*tool_calls: ToolCallPart, text: str | None = None) -> ModelResponse:
    """An answer that asks for tool calls (in this order), with optional text beside them."""
    return ModelResponse(text=text, tool_calls=tuple(tool_calls))


def _estimate(request: ModelRequest, reply: ModelResponse) -> Usage:
    sent = canonical.dumps(
        canonical.normalize(
            {"messages": list(request.messages), "tools": [t.to_json() for t in request.tools]}
        )
    )
    answer = (reply.text or "") + "".join(canonical.dumps(c.to_json()) for c in reply.tool_calls)
    return Usage(math.ceil(len(sent) / 4), max(1, math.ceil(len(answer) / 4)))
