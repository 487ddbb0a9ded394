"""Anthropic's messages API on the official ``anthropic`` SDK (the ``anthropic`` extra): tools,
usage, optional streaming (SSE). As with OpenAI, the SDK's own retries are off: the turn API
retries, one journaled attempt at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import EffectHostError, ErrorCode
from .extras import require
from .messages import ModelRequest, ModelResponse, ToolCallPart, Usage
from .protocol import TextCallback
from .sdk_client import SdkModel, error_message, status_error


class AnthropicModel(SdkModel):
    """``AnthropicModel("claude-sonnet-4-5")``; ``base_url`` and ``api_key`` default to
    ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY``. ``max_tokens`` (required by the API) unless
    the agent's settings give one."""

    provider, sdk_client, env_prefix = "anthropic", "AsyncAnthropic", "ANTHROPIC"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        client: Any = None,
    ) -> None:
        super().__init__(model, base_url=base_url, api_key=api_key, timeout_s=timeout_s, client=client)
        self.max_tokens = max_tokens

    async def request(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        anthropic = require("anthropic", "anthropic", "AnthropicModel")
        body: dict[str, Any] = {
            "model": self.name,
            "max_tokens": self.max_tokens,
            "messages": to_anthropic_messages(request.messages),
        }
        if request.system:
            body["system"] = request.system
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        body.update(request.settings)
        try:
            if on_text is None:
                return self._read(await self.client.messages.create(**body))
            async with self.client.messages.stream(**body) as stream:
                async for text in stream.text_stream:
                    await on_text(text)
                return self._read(await stream.get_final_message())
        except anthropic.APIStatusError as exc:
            raise status_error(exc.status_code, error_message(exc)) from None
        except anthropic.APIConnectionError as exc:
            raise EffectHostError(ErrorCode.MODEL_UNAVAILABLE, f"{self.model}: {exc}") from None

    def _read(self, message: Any) -> ModelResponse:
        texts: list[str] = []
        calls: list[ToolCallPart] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = block.input if isinstance(block.input, dict) else str(block.input)
                calls.append(ToolCallPart(block.id, block.name, arguments))
        usage = message.usage
        return ModelResponse(
            text="".join(texts) if texts else None,
            tool_calls=tuple(calls),
            usage=Usage(usage.input_tokens or 0, usage.output_tokens or 0) if usage is not None else Usage(),
            stop_reason=message.stop_reason,
            model=message.model,
        )


def to_anthropic_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages as Anthropic messages: system messages leave (they are ``system``), an
    assistant's tool calls become ``tool_use`` blocks, and consecutive tool results one user
    message of ``tool_result`` blocks."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        if role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.get("content"):
                blocks.append({"type": "text", "text": message["content"]})
            for call in message.get("tool_calls") or []:
                arguments = call["arguments"] if isinstance(call["arguments"], dict) else {}
                blocks.append(
                    {"type": "tool_use", "id": call["id"], "name": call["name"], "input": arguments}
                )
            out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": message.get("content", ""),
                "is_error": bool(message.get("is_error")),
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        else:
            out.append({"role": "user", "content": message.get("content", "")})
    return out
