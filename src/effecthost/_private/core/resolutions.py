"""The terminal of an await event and what a resolve did (spec 2.12)."""

from __future__ import annotations

from typing import Any, ClassVar

from . import canonical
from .errors import EffectHostError, ErrorCode


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
