"""An OpenAI-compatible model client on the official ``openai`` SDK (the ``openai`` extra): chat
completions with tools, optional streaming (SSE). Works against OpenAI and every server that
speaks its wire format (vLLM, Ollama, a LiteLLM proxy, ...).

The SDK's own retries are off (``max_retries=0``): a request is retried by the turn API, one
journaled attempt at a time, so a retry after a crash is never a second, unrecorded request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import EffectHostError, ErrorCode
from .extras import require
from .messages import ModelRequest, ModelResponse, ToolCallPart, Usage
from .protocol import TextCallback
from .sdk_client import SdkModel, error_message, status_error


class OpenAIModel(SdkModel):
    """``OpenAIModel("gpt-4o-mini")``; ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL``
    and ``OPENAI_API_KEY``. ``client``: an ``openai.AsyncOpenAI`` of your own instead."""

    provider, sdk_client, env_prefix = "openai", "AsyncOpenAI", "OPENAI"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        client: Any = None,
    ) -> None:
        super().__init__(model, base_url=base_url, api_key=api_key, timeout_s=timeout_s, client=client)

    async def request(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        openai = require("openai", "openai", "OpenAIModel")
        body: dict[str, Any] = {"model": self.name, "messages": to_openai_messages(request.messages)}
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        body.update(request.settings)
        try:
            if on_text is None:
                completion = await self.client.chat.completions.create(**body)
                return self._read(completion)
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            return await self._stream(await self.client.chat.completions.create(**body), on_text)
        except openai.APIStatusError as exc:
            raise status_error(exc.status_code, error_message(exc)) from None
        except openai.APIConnectionError as exc:
            raise EffectHostError(ErrorCode.MODEL_UNAVAILABLE, f"{self.model}: {exc}") from None

    def _read(self, completion: Any) -> ModelResponse:
        if not completion.choices:
            raise EffectHostError(
                ErrorCode.MODEL_RESPONSE_INVALID, f"{self.model}: an answer without choices"
            )
        choice = completion.choices[0]
        message = choice.message
        calls = tuple(
            ToolCallPart(call.id, call.function.name, _arguments(call.function.arguments))
            for call in (message.tool_calls or [])
        )
        usage = completion.usage
        return ModelResponse(
            text=message.content,
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage is not None else Usage(),
            stop_reason=choice.finish_reason,
            model=completion.model,
        )

    async def _stream(self, chunks: Any, on_text: TextCallback) -> ModelResponse:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish: str | None = None
        model: str | None = None
        async for chunk in chunks:
            model = chunk.model or model
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    await on_text(delta.content)
                for part in delta.tool_calls or []:
                    slot = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                    if part.id:
                        slot["id"] = part.id
                    if part.function is not None:
                        slot["name"] += part.function.name or ""
                        slot["arguments"] += part.function.arguments or ""
                finish = choice.finish_reason or finish
        return ModelResponse(
            text="".join(text) if text else None,
            tool_calls=tuple(
                ToolCallPart(c["id"], c["name"], _arguments(c["arguments"])) for _, c in sorted(calls.items())
            ),
            usage=usage,
            stop_reason=finish,
            model=model,
        )


def to_openai_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages as chat-completions messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
            if message.get("tool_calls"):
                item["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": _text_arguments(call["arguments"])},
                    }
                    for call in message["tool_calls"]
                ]
            out.append(item)
        elif role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message["tool_call_id"],
                    "content": message.get("content", ""),
                }
            )
        else:
            out.append({"role": role, "content": message.get("content", "")})
    return out


def _arguments(text: str | None) -> dict[str, Any] | str:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _text_arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
