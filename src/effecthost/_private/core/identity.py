"""Identity values: execution scopes, runtime (lineage) scopes, invocations, effect kinds.

Every ``to_json`` builds dicts in the seed's declaration order with the tag first; that order is
what the stable hash sees.
"""

from __future__ import annotations

import enum
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from .errors import EffectHostError, ErrorCode

ID_RULE = (
    "ids must not contain NUL, lone surrogates or invisible format characters (zero-width, "
    "bidi controls), and must be in Unicode NFC"
)


def check_id(value: str, what: str) -> None:
    """Refuse an id that no substrate can store exactly, or that can pass for another id.

    NUL: PostgreSQL text cannot hold it and libpq cuts a parameter there, so ``k\0one`` would be
    stored as ``k``. A lone surrogate is not Unicode: it cannot be encoded as UTF-8 at all. Format
    characters (zero-width, bidi overrides) are invisible, and an NFD id looks exactly like its NFC
    twin: either would make two ids that an operator cannot tell apart. Other control characters
    (``\n``, ``\t``) stay valid: they are visible once escaped, and the faces escape them.
    """
    if value.isascii():  # the common case: no format characters, and always NFC
        if "\x00" in value:
            _refuse(what, value.index("\x00"), "\x00")
        return
    for index, char in enumerate(value):
        if char == "\x00" or unicodedata.category(char) in ("Cs", "Cf"):
            _refuse(what, index, char)
    if not unicodedata.is_normalized("NFC", value):
        raise EffectHostError(ErrorCode.INVALID_ID, f"{what} is not in Unicode NFC; {ID_RULE}")


def shown(value: str, limit: int = 40) -> str:
    """``repr`` of a caller's string, cut short: an error message must not echo a megabyte."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _refuse(what: str, index: int, char: str) -> None:
    name = {"\x00": "NUL"}.get(char) or (
        "lone surrogate" if unicodedata.category(char) == "Cs" else unicodedata.name(char, "")
    )
    label = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
    raise EffectHostError(ErrorCode.INVALID_ID, f"{what} contains {label} at index {index}; {ID_RULE}")


class EffectKind(enum.StrEnum):
    """Effect kinds, snake_case as in spec 2.5 (seed names plus the later ones we know)."""

    LLM_CALL = "llm_call"
    DIRECT = "direct"
    TOOL_CALL = "tool_call"
    PROCESS = "process"
    EXEC_CODE = "exec_code"
    CHECKPOINT = "checkpoint"
    SYNC_EXECUTION_ENVIRONMENT = "sync_execution_environment"
    SLEEP = "sleep"
    AWAIT_EVENT = "await_event"
    DURABLE_STEP = "durable_step"


_MISSING_SCOPE_MESSAGE = "execution scopes require non-empty stable ids"

# variant -> (field names in declaration order, index of the id field, v2 journal kind)
_SCOPE_VARIANTS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "turn": (("session_id", "turn_id"), 1, "turn"),
    "process": (("process_id",), 0, "process"),
    "queue_drain": (("session_id", "drain_id"), 1, "drain"),
    "session_delete": (("session_id",), 0, "delete"),
    "runtime_operation": (("operation_id",), 0, "op"),
}
_JOURNAL_KIND_TO_VARIANT = {kind: variant for variant, (_, _, kind) in _SCOPE_VARIANTS.items()}


@dataclass(frozen=True, slots=True)
class ExecutionScope:
    """The semantic identity a host scopes a controller to (spec 2.1).

    Build with the constructors (``ExecutionScope.turn(...)`` etc.); ``variant`` is the serde tag and
    ``ids`` the id fields in declaration order.
    """

    variant: str
    ids: tuple[str, ...]

    def __post_init__(self) -> None:
        # Blank or mistyped ids are validate()'s business (spec 2.1: checked where the scope is
        # used); an id no store can hold exactly is refused as soon as it is built.
        for value in self.ids:
            if isinstance(value, str):
                check_id(value, f"execution scope id {shown(value)}")

    @classmethod
    def turn(cls, session_id: str, turn_id: str) -> ExecutionScope:
        return cls("turn", (session_id, turn_id))

    @classmethod
    def process(cls, process_id: str) -> ExecutionScope:
        return cls("process", (process_id,))

    @classmethod
    def queue_drain(cls, session_id: str, drain_id: str) -> ExecutionScope:
        return cls("queue_drain", (session_id, drain_id))

    @classmethod
    def session_delete(cls, session_id: str) -> ExecutionScope:
        return cls("session_delete", (session_id,))

    @classmethod
    def runtime_operation(cls, operation_id: str) -> ExecutionScope:
        return cls("runtime_operation", (operation_id,))

    @property
    def scope_id(self) -> str:
        return self.ids[_SCOPE_VARIANTS[self.variant][1]]

    @property
    def session_id(self) -> str | None:
        if self.variant in ("turn", "queue_drain", "session_delete"):
            return self.ids[0]
        return None

    @property
    def turn_id(self) -> str | None:
        return self.ids[1] if self.variant == "turn" else None

    @staticmethod
    def require(scope: object) -> ExecutionScope:
        """``scope`` validated, for calls that take one: anything else is a coded error."""
        if not isinstance(scope, ExecutionScope):
            raise EffectHostError(
                ErrorCode.MISSING_EXECUTION_SCOPE_ID,
                f"expected an ExecutionScope, got {type(scope).__name__}",
            )
        scope.validate()
        return scope

    def validate(self) -> None:
        """Raise ``missing_execution_scope_id`` unless every id is non-blank."""
        spec = _SCOPE_VARIANTS.get(self.variant)
        if spec is None or len(self.ids) != len(spec[0]):
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, _MISSING_SCOPE_MESSAGE)
        for value in self.ids:
            if not isinstance(value, str) or not value.strip():
                raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, _MISSING_SCOPE_MESSAGE)

    def to_json(self) -> dict[str, Any]:
        names = _SCOPE_VARIANTS[self.variant][0]
        body: dict[str, Any] = {"type": self.variant}
        body.update(zip(names, self.ids, strict=True))
        return body

    @classmethod
    def from_json(cls, value: Any) -> ExecutionScope:
        if not isinstance(value, dict) or value.get("type") not in _SCOPE_VARIANTS:
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "unknown execution scope")
        names = _SCOPE_VARIANTS[value["type"]][0]
        if set(value) != {"type", *names}:
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "malformed execution scope")
        scope = cls(value["type"], tuple(value[name] for name in names))
        scope.validate()
        return scope

    def journal_key(self) -> str:
        """The v2 journal identity: compact JSON ``{"version":2,"kind":..,...}`` (spec 2.1)."""
        self.validate()
        kind = _SCOPE_VARIANTS[self.variant][2]
        body: dict[str, Any] = {"version": 2, "kind": kind}
        session = self.session_id
        if session is not None:
            body["session_id"] = session
        if self.variant != "session_delete":
            body["execution_id"] = self.scope_id
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_journal_key(cls, key: str) -> ExecutionScope:
        try:
            body = json.loads(key)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("version") != 2:
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "not a v2 journal key")
        variant = _JOURNAL_KIND_TO_VARIANT.get(body.get("kind"))  # type: ignore[arg-type]
        session, execution = body.get("session_id"), body.get("execution_id")
        ids: tuple[Any, ...]
        if variant in ("turn", "queue_drain"):
            ids = (session, execution)
        elif variant == "session_delete":
            ids = (session,)
        elif variant in ("process", "runtime_operation"):
            ids = (execution,)
        else:
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "unknown journal key kind")
        scope = cls(variant, tuple(str(i) if isinstance(i, str) else "" for i in ids))
        scope.validate()
        if scope.journal_key() != key:
            raise EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "non-canonical journal key")
        return scope

    def __repr__(self) -> str:
        args = ", ".join(repr(i) for i in self.ids)
        return f"ExecutionScope.{self.variant}({args})"


def session_journal_key_ranges(session_id: str) -> tuple[tuple[str, str], ...]:
    """Half-open ranges ``[low, high)`` that hold every v2 journal key naming ``session_id``.

    A v2 key starts ``{"version":2,"kind":K,"session_id":S`` for every scope with a session, so a
    session's keys are one contiguous run per kind in binary (code point) order. A store keyed by
    journal key finds a session's rows in these ranges of its primary key, with no session index
    to keep up to date on every write. The prefixes are cut out of real keys, so they cannot drift
    from :meth:`ExecutionScope.journal_key`; what follows the session value is ``,`` (more ids) or
    ``}`` (the key ends), and the high bound is that character plus one.
    """
    ranges = []
    for variant, (names, _, _) in _SCOPE_VARIANTS.items():
        if names[0] != "session_id":
            continue
        key = ExecutionScope(variant, (session_id, *("x" for _ in names[1:]))).journal_key()
        field = '"session_id":' + json.dumps(session_id, ensure_ascii=False)
        session_end = key.index(field) + len(field)
        low = key[: session_end + 1]  # through the "," or "}" after the session value
        ranges.append((low, low[:-1] + chr(ord(low[-1]) + 1)))
    return tuple(ranges)


def _check_u64(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, f"{what} must be an integer in u64")


@dataclass(frozen=True, slots=True)
class RuntimeScope:
    """Lineage scope carried inside an envelope (spec 2.3); optional fields are omitted when None."""

    session_id: str
    turn_id: str | None = None
    turn_index: int | None = None
    protocol_iteration: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.session_id, str):
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "session_id must be a string")
        if self.turn_id is not None and not isinstance(self.turn_id, str):
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "turn_id must be a string")
        check_id(self.session_id, "runtime scope session_id")
        if self.turn_id is not None:
            check_id(self.turn_id, "runtime scope turn_id")
        for name in ("turn_index", "protocol_iteration"):
            value = getattr(self, name)
            if value is not None:
                _check_u64(value, name)

    @classmethod
    def for_turn(
        cls, session_id: str, turn_id: str, turn_index: int, protocol_iteration: int
    ) -> RuntimeScope:
        return cls(session_id, turn_id, turn_index, protocol_iteration)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"session_id": self.session_id}
        if self.turn_id is not None:
            body["turn_id"] = self.turn_id
        if self.turn_index is not None:
            body["turn_index"] = self.turn_index
        if self.protocol_iteration is not None:
            body["protocol_iteration"] = self.protocol_iteration
        return body

    @classmethod
    def from_json(cls, value: Any) -> RuntimeScope:
        if not isinstance(value, dict) or "session_id" not in value:
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "malformed runtime scope")
        return cls(
            value["session_id"],
            value.get("turn_id"),
            value.get("turn_index"),
            value.get("protocol_iteration"),
        )


@dataclass(frozen=True, slots=True)
class RuntimeInvocation:
    """Who asks for an effect (spec 2.4).

    ``subject`` is the tagged subject JSON; only ``{"type": "effect", ...}`` subjects may carry an
    envelope. ``caused_by`` is an optional causal reference, kept as given (tag first).
    """

    scope: RuntimeScope
    subject: dict[str, Any]
    replay_key: str | None = None
    caused_by: dict[str, Any] | None = None

    @classmethod
    def effect(
        cls, scope: RuntimeScope, effect_id: str, kind: EffectKind | str, replay_key: str
    ) -> RuntimeInvocation:
        kind_text = kind.value if isinstance(kind, EffectKind) else str(kind)
        return cls(scope, {"type": "effect", "effect_id": effect_id, "kind": kind_text}, replay_key)

    @property
    def effect_id(self) -> str | None:
        if self.subject.get("type") == "effect":
            value = self.subject.get("effect_id")
            return value if isinstance(value, str) else None
        return None

    @property
    def effect_kind(self) -> str | None:
        if self.subject.get("type") == "effect":
            value = self.subject.get("kind")
            return value if isinstance(value, str) else None
        return None

    def with_caused_by(self, caused_by: dict[str, Any]) -> RuntimeInvocation:
        return RuntimeInvocation(self.scope, self.subject, self.replay_key, caused_by)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"scope": self.scope.to_json(), "subject": dict(self.subject)}
        if self.caused_by is not None:
            body["caused_by"] = dict(self.caused_by)
        if self.replay_key is not None:
            body["replay"] = {"key": self.replay_key}
        return body

    @classmethod
    def from_json(cls, value: Any) -> RuntimeInvocation:
        if not isinstance(value, dict) or not isinstance(value.get("subject"), dict):
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "malformed invocation")
        replay = value.get("replay")
        key = replay.get("key") if isinstance(replay, dict) else None
        return cls(RuntimeScope.from_json(value.get("scope")), value["subject"], key, value.get("caused_by"))
