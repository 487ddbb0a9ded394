"""One error tree with stable string codes.

Codes are data: a journaled error keeps whatever code it had, so ``EffectHostError.code`` is a plain
``str`` and :class:`ErrorCode` only names the codes this library raises itself.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Codes effecthost raises on purpose. Unknown codes are carried as plain strings."""

    # scopes, envelopes, outcomes
    MISSING_EXECUTION_SCOPE_ID = "missing_execution_scope_id"
    INVALID_ID = "invalid_id"
    INVALID_ARGUMENT = "invalid_argument"
    RUNTIME_EFFECT_INVOCATION_SUBJECT = "runtime_effect_invocation_subject"
    RUNTIME_EFFECT_INVOCATION_KIND = "runtime_effect_invocation_kind"
    RUNTIME_EFFECT_REPLAY_REQUIRED = "runtime_effect_replay_required"
    RUNTIME_EFFECT_DURABLE_STEP_ID = "runtime_effect_durable_step_id"
    RUNTIME_EFFECT_ENVELOPE_HASH = "runtime_effect_envelope_hash"
    RUNTIME_EFFECT_ENVELOPE_CANONICAL_DECODE = "runtime_effect_envelope_canonical_decode"
    RUNTIME_EFFECT_ENVELOPE_CANONICAL_HASH_INVARIANT = "runtime_effect_envelope_canonical_hash_invariant"
    RUNTIME_EFFECT_WRONG_OUTCOME = "runtime_effect_wrong_outcome"
    RUNTIME_EFFECT_TOOL_CALL_PENDING = "runtime_effect_tool_call_pending"
    RUNTIME_EFFECT_DISCRIMINATOR = "runtime_effect_discriminator"
    RUNTIME_EFFECT_COMMAND = "runtime_effect_command"
    RUNTIME_EFFECT_OUTCOME_DECODE = "runtime_effect_outcome_decode"
    # canonical JSON (effecthost's own: the seed never sees such values)
    CANONICAL_JSON_UNSUPPORTED_TYPE = "canonical_json_unsupported_type"
    CANONICAL_JSON_NON_FINITE = "canonical_json_non_finite"
    CANONICAL_JSON_INTEGER_RANGE = "canonical_json_integer_range"
    CANONICAL_JSON_KEY_TYPE = "canonical_json_key_type"
    CANONICAL_JSON_INVALID_STRING = "canonical_json_invalid_string"
    CANONICAL_JSON_TOO_DEEP = "canonical_json_too_deep"
    # local executors
    RUNTIME_EFFECT_LOCAL_EXECUTOR_UNAVAILABLE = "runtime_effect_local_executor_unavailable"
    RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH = "runtime_effect_local_executor_mismatch"
    RUNTIME_EFFECT_LOCAL_EXECUTOR_FAILED = "runtime_effect_local_executor_failed"
    RUNTIME_EFFECT_SLEEP_CANCELLED = "runtime_effect_sleep_cancelled"
    # await events
    AWAIT_EVENT_UNSUPPORTED = "await_event_unsupported"
    AWAIT_EVENT_UNKNOWN_OR_REVOKED = "await_event_unknown_or_revoked"
    INVALID_AWAIT_EVENT_WAIT_IDENTITY = "invalid_await_event_wait_identity"
    INVALID_AWAIT_EVENT_SESSION_ID = "invalid_await_event_session_id"
    AWAIT_EVENT_KEY_HASH = "await_event_key_hash"
    AWAIT_EVENT_KEY_SIGN = "await_event_key_sign"
    AWAIT_EVENT_TOKEN_MALFORMED = "await_event_token_malformed"
    AWAIT_EVENT_RESOLUTION_INVALID = "await_event_resolution_invalid"
    AWAIT_EVENT_CANCEL_UNSUPPORTED = "await_event_cancel_unsupported"
    TURN_CONTROL_WAIT_CANCELLED = "turn_control_wait_cancelled"
    TURN_CONTROL_WAIT_TIMEOUT = "turn_control_wait_timeout"
    # recording host
    RECORDING_EFFECT_HOST_UNSUPPORTED_COMMAND = "recording_effect_host_unsupported_command"
    # journal (backend-neutral names; backends use ``{backend}_effect_replay_*``)
    EFFECT_JOURNAL_RETIREMENT_UNSUPPORTED = "effect_journal_retirement_unsupported"
    # hosts, URLs
    HOST_URL_INVALID = "host_url_invalid"
    HOST_URL_UNSUPPORTED = "host_url_unsupported"
    HOST_CLOSED = "host_closed"
    HOST_OPTION_INVALID = "host_option_invalid"
    EXTRA_NOT_INSTALLED = "extra_not_installed"
    SCHEMA_CHECK_UNSUPPORTED = "schema_check_unsupported"
    # memory substrate journal
    MEMORY_EFFECT_REPLAY_KEY_MISSING = "memory_effect_replay_key_missing"
    MEMORY_EFFECT_REPLAY_MISSING = "memory_effect_replay_missing"
    MEMORY_EFFECT_REPLAY_HASH_CONFLICT = "memory_effect_replay_hash_conflict"
    MEMORY_EFFECT_REPLAY_CORRUPT_ROW = "memory_effect_replay_corrupt_row"
    MEMORY_EFFECT_REPLAY_DECODE = "memory_effect_replay_decode"
    MEMORY_EFFECT_REPLAY_ENCODE = "memory_effect_replay_encode"
    MEMORY_EFFECT_REPLAY_LEASE_LOST = "memory_effect_replay_lease_lost"
    MEMORY_EFFECT_REPLAY_STORE = "memory_effect_replay_store"
    # sqlite substrate
    SQLITE_EFFECT_REPLAY_KEY_MISSING = "sqlite_effect_replay_key_missing"
    SQLITE_EFFECT_REPLAY_MISSING = "sqlite_effect_replay_missing"
    SQLITE_EFFECT_REPLAY_HASH_CONFLICT = "sqlite_effect_replay_hash_conflict"
    SQLITE_EFFECT_REPLAY_CORRUPT_ROW = "sqlite_effect_replay_corrupt_row"
    SQLITE_EFFECT_REPLAY_DECODE = "sqlite_effect_replay_decode"
    SQLITE_EFFECT_REPLAY_ENCODE = "sqlite_effect_replay_encode"
    SQLITE_EFFECT_REPLAY_LEASE_LOST = "sqlite_effect_replay_lease_lost"
    SQLITE_EFFECT_REPLAY_STORE = "sqlite_effect_replay_store"
    SQLITE_EFFECT_JOURNAL_RETIREMENT = "sqlite_effect_journal_retirement"
    SQLITE_AWAIT_EVENT_STORE = "sqlite_await_event_store"
    SQLITE_SCHEMA_TOO_NEW = "sqlite_schema_too_new"
    SQLITE_SCHEMA_UNKNOWN = "sqlite_schema_unknown"
    # postgres substrate
    POSTGRES_EFFECT_REPLAY_KEY_MISSING = "postgres_effect_replay_key_missing"
    POSTGRES_EFFECT_REPLAY_MISSING = "postgres_effect_replay_missing"
    POSTGRES_EFFECT_REPLAY_HASH_CONFLICT = "postgres_effect_replay_hash_conflict"
    POSTGRES_EFFECT_REPLAY_CORRUPT_ROW = "postgres_effect_replay_corrupt_row"
    POSTGRES_EFFECT_REPLAY_DECODE = "postgres_effect_replay_decode"
    POSTGRES_EFFECT_REPLAY_ENCODE = "postgres_effect_replay_encode"
    POSTGRES_EFFECT_REPLAY_LEASE_LOST = "postgres_effect_replay_lease_lost"
    POSTGRES_EFFECT_REPLAY_STORE = "postgres_effect_replay_store"
    POSTGRES_EFFECT_JOURNAL_RETIREMENT = "postgres_effect_journal_retirement"
    POSTGRES_AWAIT_EVENT_STORE = "postgres_await_event_store"
    POSTGRES_SCHEMA_TOO_NEW = "postgres_schema_too_new"
    POSTGRES_PAYLOAD_TOO_LARGE = "postgres_payload_too_large"


#: Codes of journal conflicts between a recorded and a reconstructed envelope.
REPLAY_MISMATCH_CODES = frozenset(
    {
        "memory_effect_replay_hash_conflict",
        "sqlite_effect_replay_hash_conflict",
        "postgres_effect_replay_hash_conflict",
        "restate_effect_hash_mismatch",
    }
)


class EffectHostError(Exception):
    """An error with a stable ``code``; ``str(err) == f"{code}: {message}"``.

    ``summary`` carries structured diagnostics (for replay mismatches: the divergent JSON paths).
    """

    def __init__(self, code: str, message: str, *, summary: dict[str, Any] | None = None) -> None:
        self.code: str = str(code)
        self.message: str = message
        self.summary: dict[str, Any] | None = summary
        super().__init__(f"{self.code}: {message}")

    def __repr__(self) -> str:
        return f"EffectHostError(code={self.code!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EffectHostError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    def is_replay_mismatch(self) -> bool:
        return self.code in REPLAY_MISMATCH_CODES

    def to_json(self) -> dict[str, Any]:
        """The journaled shape: ``{"code", "message"}`` (+ ``summary`` when present)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.summary is not None:
            body["summary"] = self.summary
        return body

    @classmethod
    def from_json(cls, value: Any) -> EffectHostError:
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("code"), str)
            or not isinstance(value.get("message"), str)
        ):
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_OUTCOME_DECODE, "error JSON needs string code and message"
            )
        summary = value.get("summary")
        return cls(value["code"], value["message"], summary=summary if isinstance(summary, dict) else None)


def backend_code(backend: str, suffix: str) -> str:
    """``{backend}_effect_replay_{suffix}`` — the journal codes every substrate shares in shape."""
    return f"{backend}_effect_replay_{suffix}"
