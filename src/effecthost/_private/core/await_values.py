"""Await-event keys and what they name: wait identities, keys, and the one token string per key
(spec 2.12, 5.1). The token is a format of the value, so it lives with it; signing and
verification need the substrate's secret and live in ``awaits.keys``."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .errors import EffectHostError, ErrorCode
from .identity import ExecutionScope, check_id, shown

_WAIT_FIELDS: dict[str, tuple[str, ...]] = {
    "tool_completion": ("tool_call_id",),
    "process_signal": ("process_id", "signal_name", "ordinal"),
    "turn_cancel_gate": (),
    "turn_terminal": (),
    "custom": ("key",),
}
_WAIT_MESSAGE = "await-event wait identity requires non-empty stable ids"


@dataclass(frozen=True, slots=True)
class WaitIdentity:
    """What a scope waits for. ``turn_cancel_gate``/``turn_terminal`` are turn-control waits."""

    variant: str
    fields: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        for value in self.fields:
            if isinstance(value, str):
                check_id(value, f"wait identity id {shown(value)}")

    @classmethod
    def tool_completion(cls, tool_call_id: str) -> WaitIdentity:
        return cls("tool_completion", (tool_call_id,))

    @classmethod
    def process_signal(cls, process_id: str, signal_name: str, ordinal: int) -> WaitIdentity:
        return cls("process_signal", (process_id, signal_name, ordinal))

    @classmethod
    def custom(cls, key: str) -> WaitIdentity:
        return cls("custom", (key,))

    @classmethod
    def turn_cancel_gate(cls) -> WaitIdentity:
        return cls("turn_cancel_gate", ())

    @classmethod
    def turn_terminal(cls) -> WaitIdentity:
        return cls("turn_terminal", ())

    @property
    def is_turn_control(self) -> bool:
        return self.variant in ("turn_cancel_gate", "turn_terminal")

    def validate(self) -> None:
        names = _WAIT_FIELDS.get(self.variant)
        if names is None or len(names) != len(self.fields):
            raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY, _WAIT_MESSAGE)
        for name, value in zip(names, self.fields, strict=True):
            if name == "ordinal":
                ok = not isinstance(value, bool) and isinstance(value, int) and 0 < value < 2**64
            else:
                ok = isinstance(value, str) and bool(value.strip())
            if not ok:
                raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY, _WAIT_MESSAGE)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.variant}
        body.update(zip(_WAIT_FIELDS[self.variant], self.fields, strict=True))
        return body

    @classmethod
    def from_json(cls, value: Any) -> WaitIdentity:
        if not isinstance(value, dict) or value.get("type") not in _WAIT_FIELDS:
            raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY, _WAIT_MESSAGE)
        names = _WAIT_FIELDS[value["type"]]
        if set(value) != {"type", *names}:
            raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY, _WAIT_MESSAGE)
        wait = cls(value["type"], tuple(value[name] for name in names))
        wait.validate()
        return wait


@dataclass(frozen=True, slots=True)
class AwaitEventKey:
    """A signed capability naming one promise: ``(scope, wait, key_id, signature)``."""

    scope: ExecutionScope
    wait: WaitIdentity
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope.to_json(),
            "wait": self.wait.to_json(),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, value: Any) -> AwaitEventKey:
        if (
            not isinstance(value, dict)
            or set(value) != {"scope", "wait", "key_id", "signature"}
            or not isinstance(value["key_id"], str)
            or not isinstance(value["signature"], str)
        ):
            raise EffectHostError(ErrorCode.AWAIT_EVENT_TOKEN_MALFORMED, "malformed await-event key")
        return cls(
            ExecutionScope.from_json(value["scope"]),
            WaitIdentity.from_json(value["wait"]),
            value["key_id"],
            value["signature"],
        )

    def promise_key(self) -> str:
        return "lash-await-event:" + self.key_id

    def to_token(self) -> str:
        return encode_token(self)

    @classmethod
    def from_token(cls, text: str) -> AwaitEventKey:
        return decode_token(text)


TOKEN_PREFIX = "ehk1."
MAX_TOKEN_LENGTH = 8192


def encode_token(key: AwaitEventKey) -> str:
    """``ehk1.`` + base64url(JSON [scope, wait, key_id, signature]) without padding."""
    body = json.dumps(
        [key.scope.to_json(), key.wait.to_json(), key.key_id, key.signature],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return TOKEN_PREFIX + base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(text: object) -> AwaitEventKey:
    """Parse a token; anything malformed raises ``await_event_token_malformed``.

    Exactly one string is accepted per key: the one :func:`encode_token` writes. Base64 and JSON
    both admit many spellings of the same bytes (padding, standard alphabet, whitespace, escapes,
    key order, duplicate keys); accepting them would let one capability travel under many names
    (a log, a rate limit or a deny list keyed by token would miss its twins). So the decoded key
    is encoded again and must give back the input, character for character.

    A well-formed token may still be forged: authenticity is checked by the host, which answers
    forged and revoked keys alike.
    """
    malformed = EffectHostError(ErrorCode.AWAIT_EVENT_TOKEN_MALFORMED, "malformed await-event token")
    if not isinstance(text, str) or len(text) > MAX_TOKEN_LENGTH or not text.startswith(TOKEN_PREFIX):
        raise malformed
    encoded = text[len(TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        parts = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise malformed from None
    if not isinstance(parts, list) or len(parts) != 4:
        raise malformed
    try:
        key = AwaitEventKey.from_json(
            {"scope": parts[0], "wait": parts[1], "key_id": parts[2], "signature": parts[3]}
        )
        spelled = encode_token(key)
    except (EffectHostError, UnicodeEncodeError):
        raise malformed from None
    if spelled != text:
        raise malformed
    return key
