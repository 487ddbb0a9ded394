"""A local model provider that speaks OpenAI's chat-completions and Anthropic's messages wire formats
(JSON and SSE streaming), for the official SDK clients to talk to on 127.0.0.1.

Its answers come from a script like the scripted model's: the n-th answer of a conversation (n =
the assistant messages the request already holds). ``fail_next`` queues HTTP errors for the next
requests. Every request's body is kept (``requests``), so a test counts what reached the provider.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from effecthost.agents import ModelResponse, Usage

Script = Callable[[dict[str, Any]], ModelResponse]


class Provider:
    """The provider's state: its script, the errors it is told to answer with, what it received."""

    def __init__(self, script: list[ModelResponse] | Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.failures: list[int] = []
        self.lock = threading.Lock()

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)

    def answer(self, body: dict[str, Any], assistant_role_count: int) -> ModelResponse:
        if callable(self.script):
            return self.script(body)
        return self.script[assistant_role_count]

    def take(self, path: str, body: dict[str, Any]) -> int | None:
        with self.lock:
            self.requests.append({"path": path, "body": body})
            return self.failures.pop(0) if self.failures else None


def _usage(response: ModelResponse, body: dict[str, Any]) -> Usage:
    if response.usage != Usage():
        return response.usage
    return Usage(len(json.dumps(body)) // 4, max(1, len(response.text or "") // 4 + 3 * len(response.tool_calls)))


# -- OpenAI chat completions ------------------------------------------------------------------------


async def chat_completions(request: Request) -> Response:
    provider: Provider = request.app.state.provider
    body = await request.json()
    failure = provider.take("openai", body)
    if failure is not None:
        kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(failure, "server_error")
        return JSONResponse({"error": {"message": f"injected {failure}", "type": kind, "code": None}}, failure)
    answered = sum(1 for m in body["messages"] if m["role"] == "assistant")
    reply = provider.answer(body, answered)
    usage = _usage(reply, body)
    model = body["model"]
    finish = "tool_calls" if reply.tool_calls else "stop"
    tool_calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in reply.tool_calls
    ]
    usage_json = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(provider.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage_json,
            }
        )

    def chunk(delta: dict[str, Any] | None, finish_reason: str | None = None, **extra: Any) -> str:
        data = {
            "id": f"chatcmpl-{len(provider.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if delta is not None else [],
            **extra,
        }
        return f"data: {json.dumps(data)}\n\n"

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        for word in _pieces(reply.text or ""):
            yield chunk({"content": word})
        for index, (call, wire) in enumerate(zip(reply.tool_calls, tool_calls, strict=True)):
            start = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            yield chunk({"tool_calls": [start]})
            arguments = wire["function"]["arguments"]
            for half in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": half}}]})
        yield chunk({}, finish)
        yield chunk(None, usage=usage_json)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


# -- Anthropic messages ------------------------------------------------------------------------------


async def messages(request: Request) -> Response:
    provider: Provider = request.app.state.provider
    body = await request.json()
    failure = provider.take("anthropic", body)
    if failure is not None:
        kind = {429: "rate_limit_error", 400: "invalid_request_error", 529: "overloaded_error"}.get(failure, "api_error")
        return JSONResponse({"type": "error", "error": {"type": kind, "message": f"injected {failure}"}}, failure)
    answered = sum(1 for m in body["messages"] if m["role"] == "assistant")
    reply = provider.answer(body, answered)
    usage = _usage(reply, body)
    stop = "tool_use" if reply.tool_calls else "end_turn"
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    message = {
        "id": f"msg_{len(provider.requests)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
    }
    if not body.get("stream"):
        return JSONResponse(message)

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    async def events() -> AsyncIterator[str]:
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1}}  # fmt: skip
        yield event("message_start", {"message": start})
        for index, block in enumerate(content):
            if block["type"] == "text":
                yield event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
                for word in _pieces(block["text"]):
                    yield event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": word}})
            else:
                opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                yield event("content_block_start", {"index": index, "content_block": opening})
                arguments = json.dumps(block["input"])
                for half in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": half}
                    yield event("content_block_delta", {"index": index, "delta": delta})
            yield event("content_block_stop", {"index": index})
        yield event(
            "message_delta",
            {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": usage.output_tokens}},
        )
        yield event("message_stop", {})

    return StreamingResponse(events(), media_type="text/event-stream")


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)] if text else []


def provider_app(provider: Provider) -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
        ]
    )
    app.state.provider = provider
    return app


@contextlib.contextmanager
def serve_provider(provider: Provider) -> Iterator[str]:
    """uvicorn on a free port of 127.0.0.1 in a thread of this process; yields its base URL
    (``{url}/v1`` for OpenAI, ``{url}`` for Anthropic). Stopped on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(provider_app(provider), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the provider did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
