"""What the model clients on the official SDKs (``openai``, ``anthropic``) share: the model name's
check, an SDK client with its own retries off (the turn API retries, one journaled attempt at a
time, so a retry after a crash is never a second, unrecorded request), closing it, and how an
HTTP failure becomes a coded error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from ..core.errors import EffectHostError, ErrorCode
from .extras import require


class SdkModel:
    """The part of ``OpenAIModel`` and ``AnthropicModel`` that does not depend on the wire format.

    A subclass names its ``provider`` (the SDK module, its extra and the ``provider:`` prefix of
    ``model``), the SDK's async client class, and the environment variables' prefix."""

    provider: ClassVar[str]
    sdk_client: ClassVar[str]
    env_prefix: ClassVar[str]

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        client: Any,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"a model name is a non-empty str, not {model!r}"
            )
        self.name = model
        if client is None:
            sdk = require(self.provider, self.provider, type(self).__name__)
            client = getattr(sdk, self.sdk_client)(
                base_url=base_url or os.environ.get(f"{self.env_prefix}_BASE_URL") or None,
                api_key=api_key or os.environ.get(f"{self.env_prefix}_API_KEY") or None,
                max_retries=0,
                timeout=timeout_s,
            )
        self.client = client

    @property
    def model(self) -> str:
        return f"{self.provider}:{self.name}"

    async def aclose(self) -> None:
        """Close the SDK client's connections (``async with`` the model does it too)."""
        await self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def error_message(exc: Any) -> str:
    """The provider's own message of an SDK error (its JSON body's), else the exception's."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", exc))


def status_error(status: int, message: str) -> EffectHostError:
    """429 and 5xx may succeed later (retried); any other status will not."""
    if status == 429 or status >= 500:
        return EffectHostError(ErrorCode.MODEL_UNAVAILABLE, f"HTTP {status}: {message}")
    return EffectHostError(ErrorCode.MODEL_REQUEST_REJECTED, f"HTTP {status}: {message}")
