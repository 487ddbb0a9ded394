"""Await-event value types: wait identities, keys, resolutions and resolve outcomes (spec 2.12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import canonical
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
        from ..awaits.keys import encode_token

        return encode_token(self)

    @classmethod
    def from_token(cls, text: str) -> AwaitEventKey:
        from ..awaits.keys import decode_token

        return decode_token(text)


class Resolution:
    """The terminal of an await event: ``ok(value)``, ``err(code, message)``, TIMEOUT, CANCELLED."""

    __slots__ = ("payload", "status")
    TIMEOUT: ClassVar[Resolution]
    CANCELLED: ClassVar[Resolution]

    def __init__(self, status: str, payload: Any = None) -> None:
        self.status = status
        self.payload = payload

    @classmethod
    def ok(cls, value: Any) -> Resolution:
        return cls("ok", canonical.normalize(value, what="resolution payload"))

    @classmethod
    def err(cls, code: str, message: str, raw: Any = None) -> Resolution:
        if not isinstance(code, str) or not isinstance(message, str):
            raise EffectHostError(
                ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID, "error resolutions need string code and message"
            )
        payload: dict[str, Any] = {"code": code, "message": message}
        if raw is not None:
            payload["raw"] = canonical.normalize(raw, what="resolution raw")
        return cls("err", payload)

    @property
    def is_ok(self) -> bool:
        return self.status == "ok"

    @property
    def value(self) -> Any:
        """The ok payload (None for other statuses)."""
        return self.payload if self.status == "ok" else None

    def to_json(self) -> dict[str, Any]:
        if self.status in ("ok", "err"):
            return {"status": self.status, "payload": self.payload}
        return {"status": self.status}

    @classmethod
    def from_json(cls, value: Any) -> Resolution:
        """Parse the spec 2.12 shape; anything else is ``await_event_resolution_invalid``."""
        if not isinstance(value, dict):
            raise EffectHostError(ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID, "resolution must be an object")
        status = value.get("status")
        if status == "ok" and set(value) == {"status", "payload"}:
            return cls.ok(value["payload"])
        if status == "err" and set(value) == {"status", "payload"}:
            payload = value["payload"]
            if isinstance(payload, dict) and set(payload) <= {"code", "message", "raw"}:
                return cls.err(payload.get("code"), payload.get("message"), payload.get("raw"))  # type: ignore[arg-type]
        if status == "timeout" and set(value) == {"status"}:
            return cls.TIMEOUT
        if status == "cancelled" and set(value) == {"status"}:
            return cls.CANCELLED
        raise EffectHostError(
            ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID,
            'resolution must be {"status":"ok","payload":..}, {"status":"err","payload":'
            '{"code","message"}}, {"status":"timeout"} or {"status":"cancelled"}',
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resolution):
            return NotImplemented
        return self.status == other.status and self.payload == other.payload

    def __hash__(self) -> int:
        return hash((self.status, canonical.dumps(self.payload)))

    def __repr__(self) -> str:
        if self.status == "ok":
            return f"Resolution.ok({self.payload!r})"
        if self.status == "err":
            return f"Resolution.err({self.payload.get('code')!r}, {self.payload.get('message')!r})"
        return f"Resolution.{self.status.upper()}"


Resolution.TIMEOUT = Resolution("timeout")
Resolution.CANCELLED = Resolution("cancelled")


class ResolveOutcome:
    """What a resolve did: ACCEPTED, ``already_resolved(terminal)`` or UNKNOWN_OR_REVOKED."""

    __slots__ = ("status", "terminal")
    ACCEPTED: ClassVar[ResolveOutcome]
    UNKNOWN_OR_REVOKED: ClassVar[ResolveOutcome]

    def __init__(self, status: str, terminal: Resolution | None = None) -> None:
        self.status = status
        self.terminal = terminal

    @classmethod
    def already_resolved(cls, terminal: Resolution) -> ResolveOutcome:
        return cls("already_resolved", terminal)

    def to_json(self) -> dict[str, Any]:
        if self.terminal is not None:
            return {"status": self.status, "terminal": self.terminal.to_json()}
        return {"status": self.status}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResolveOutcome):
            return NotImplemented
        return self.status == other.status and self.terminal == other.terminal

    def __hash__(self) -> int:
        return hash((self.status, self.terminal))

    def __repr__(self) -> str:
        if self.terminal is not None:
            return f"ResolveOutcome.already_resolved({self.terminal!r})"
        return f"ResolveOutcome.{self.status.upper()}"


ResolveOutcome.ACCEPTED = ResolveOutcome("accepted")
ResolveOutcome.UNKNOWN_OR_REVOKED = ResolveOutcome("unknown_or_revoked")
