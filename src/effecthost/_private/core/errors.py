"""One error tree with stable string codes, and what each code means to a caller.

Codes are data: a journaled error keeps whatever code it had, so ``EffectHostError.code`` is a plain
``str`` and :class:`ErrorCode` names exactly the codes this library raises itself (a test scans the
source to keep it so). Next to the codes, :func:`traits_of` gives each one its :class:`CodeTraits`:
the HTTP status the service answers with and whether the same call can succeed later. Some codes
come in one shape per substrate, ``{backend}_{tail}``: the journal's
``{backend}_effect_replay_{suffix}`` (:func:`backend_code`) and ``{backend}_await_event_store``;
their traits are the tail's (:data:`FAMILIES`), for a third party's backend too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
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
    RUNTIME_EFFECT_ENVELOPE_CANONICAL_DECODE = "runtime_effect_envelope_canonical_decode"
    RUNTIME_EFFECT_ENVELOPE_CANONICAL_HASH_INVARIANT = "runtime_effect_envelope_canonical_hash_invariant"
    RUNTIME_EFFECT_WRONG_OUTCOME = "runtime_effect_wrong_outcome"
    RUNTIME_EFFECT_TOOL_CALL_PENDING = "runtime_effect_tool_call_pending"
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
    RUNTIME_EFFECT_SLEEP_CANCELLED = "runtime_effect_sleep_cancelled"
    # await events
    AWAIT_EVENT_UNSUPPORTED = "await_event_unsupported"
    AWAIT_EVENT_UNKNOWN_OR_REVOKED = "await_event_unknown_or_revoked"
    INVALID_AWAIT_EVENT_WAIT_IDENTITY = "invalid_await_event_wait_identity"
    INVALID_AWAIT_EVENT_SESSION_ID = "invalid_await_event_session_id"
    AWAIT_EVENT_TOKEN_MALFORMED = "await_event_token_malformed"
    AWAIT_EVENT_RESOLUTION_INVALID = "await_event_resolution_invalid"
    AWAIT_EVENT_CANCEL_UNSUPPORTED = "await_event_cancel_unsupported"
    TURN_CONTROL_WAIT_CANCELLED = "turn_control_wait_cancelled"
    TURN_CONTROL_WAIT_TIMEOUT = "turn_control_wait_timeout"
    # recording host
    RECORDING_EFFECT_HOST_UNSUPPORTED_COMMAND = "recording_effect_host_unsupported_command"
    # durable turns
    TURN_CONTEXT_MISSING = "turn_context_missing"
    TURN_NOT_FOUND = "turn_not_found"
    TURN_START_CONFLICT = "turn_start_conflict"
    TURN_NOT_RESUMABLE = "turn_not_resumable"
    TURN_KEY_REUSED = "turn_key_reused"
    TURN_CANCELLED = "turn_cancelled"
    TURN_LEASE_LOST = "turn_lease_lost"
    TURN_FAILED = "turn_failed"
    TURN_STEP_FAILED = "turn_step_failed"
    TURN_RESULT_TIMEOUT = "turn_result_timeout"
    TURN_PAYLOAD_TOO_LARGE = "turn_payload_too_large"
    TURNS_UNSUPPORTED = "turns_unsupported"
    # hosts, URLs
    HOST_URL_INVALID = "host_url_invalid"
    HOST_URL_UNSUPPORTED = "host_url_unsupported"
    HOST_CLOSED = "host_closed"
    HOST_OPTION_INVALID = "host_option_invalid"
    EXTRA_NOT_INSTALLED = "extra_not_installed"
    SCHEMA_CHECK_UNSUPPORTED = "schema_check_unsupported"
    # memory substrate
    MEMORY_EFFECT_REPLAY_MISSING = "memory_effect_replay_missing"
    MEMORY_EFFECT_REPLAY_HASH_CONFLICT = "memory_effect_replay_hash_conflict"
    MEMORY_EFFECT_REPLAY_CORRUPT_ROW = "memory_effect_replay_corrupt_row"
    MEMORY_EFFECT_REPLAY_DECODE = "memory_effect_replay_decode"
    MEMORY_EFFECT_REPLAY_ENCODE = "memory_effect_replay_encode"
    MEMORY_EFFECT_REPLAY_LEASE_LOST = "memory_effect_replay_lease_lost"
    # the memory substrate never fails on its own; injected faults (effecthost.testing.faults) do
    MEMORY_EFFECT_REPLAY_STORE = "memory_effect_replay_store"
    MEMORY_AWAIT_EVENT_STORE = "memory_await_event_store"
    # sqlite substrate
    SQLITE_EFFECT_REPLAY_MISSING = "sqlite_effect_replay_missing"
    SQLITE_EFFECT_REPLAY_HASH_CONFLICT = "sqlite_effect_replay_hash_conflict"
    SQLITE_EFFECT_REPLAY_CORRUPT_ROW = "sqlite_effect_replay_corrupt_row"
    SQLITE_EFFECT_REPLAY_DECODE = "sqlite_effect_replay_decode"
    SQLITE_EFFECT_REPLAY_ENCODE = "sqlite_effect_replay_encode"
    SQLITE_EFFECT_REPLAY_LEASE_LOST = "sqlite_effect_replay_lease_lost"
    SQLITE_EFFECT_REPLAY_STORE = "sqlite_effect_replay_store"
    SQLITE_EFFECT_JOURNAL_RETIREMENT = "sqlite_effect_journal_retirement"
    SQLITE_AWAIT_EVENT_STORE = "sqlite_await_event_store"
    SQLITE_TURN_STORE = "sqlite_turn_store"
    SQLITE_SCHEMA_TOO_NEW = "sqlite_schema_too_new"
    SQLITE_SCHEMA_UNKNOWN = "sqlite_schema_unknown"
    # postgres substrate
    POSTGRES_EFFECT_REPLAY_MISSING = "postgres_effect_replay_missing"
    POSTGRES_EFFECT_REPLAY_HASH_CONFLICT = "postgres_effect_replay_hash_conflict"
    POSTGRES_EFFECT_REPLAY_CORRUPT_ROW = "postgres_effect_replay_corrupt_row"
    POSTGRES_EFFECT_REPLAY_DECODE = "postgres_effect_replay_decode"
    POSTGRES_EFFECT_REPLAY_ENCODE = "postgres_effect_replay_encode"
    POSTGRES_EFFECT_REPLAY_LEASE_LOST = "postgres_effect_replay_lease_lost"
    POSTGRES_EFFECT_REPLAY_STORE = "postgres_effect_replay_store"
    POSTGRES_EFFECT_JOURNAL_RETIREMENT = "postgres_effect_journal_retirement"
    POSTGRES_AWAIT_EVENT_STORE = "postgres_await_event_store"
    POSTGRES_TURN_STORE = "postgres_turn_store"
    POSTGRES_SCHEMA_TOO_NEW = "postgres_schema_too_new"
    POSTGRES_PAYLOAD_TOO_LARGE = "postgres_payload_too_large"
    # integrations
    PYDANTIC_AI_OUTSIDE_TURN = "pydantic_ai_outside_turn"
    # the Restate engine (effecthost.engines.restate)
    RESTATE_EFFECT_REPLAY_HASH_CONFLICT = "restate_effect_replay_hash_conflict"
    RESTATE_EFFECT_REPLAY_DECODE = "restate_effect_replay_decode"
    RESTATE_JOURNAL_BUDGET_EXCEEDED = "restate_journal_budget_exceeded"
    RESTATE_EFFECT_HOST_REQUIRES_HANDLER_SCOPE = "restate_effect_host_requires_handler_scope"
    RESTATE_INGRESS = "restate_ingress"
    RESTATE_SERVER_UNAVAILABLE = "restate_server_unavailable"
    # durable agents (effecthost.agents)
    AGENT_LIMIT_REACHED = "agent_limit_reached"
    AGENT_TOOL_FAILED = "agent_tool_failed"
    AGENT_TOOL_ERROR = "agent_tool_error"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_REQUEST_REJECTED = "model_request_rejected"
    MODEL_RESPONSE_INVALID = "model_response_invalid"
    # the operator console (CLI, HTTP): safeguards
    SESSION_UNKNOWN = "session_unknown"
    SESSION_LIVE = "session_live"
    SERVER_UNREACHABLE = "server_unreachable"
    # the Temporal engine (effecthost.engines.temporal)
    TEMPORAL_EFFECT_REPLAY_HASH_CONFLICT = "temporal_effect_replay_hash_conflict"
    TEMPORAL_EFFECT_REPLAY_DECODE = "temporal_effect_replay_decode"
    TEMPORAL_HISTORY_BUDGET_EXCEEDED = "temporal_history_budget_exceeded"
    TEMPORAL_EFFECT_HOST_REQUIRES_WORKFLOW_SCOPE = "temporal_effect_host_requires_workflow_scope"
    TEMPORAL_CLIENT = "temporal_client"
    TEMPORAL_SERVER_UNAVAILABLE = "temporal_server_unavailable"
    TEMPORAL_BLOB_MISSING = "temporal_blob_missing"


@dataclass(frozen=True, slots=True)
class CodeTraits:
    """What a code means to a caller."""

    #: The HTTP status the service answers the code with.
    status: int
    #: True: the failure was not the request's (the substrate or the host failed, or the call was
    #: interrupted before it recorded anything), so the same call, unchanged, can succeed later.
    retryable: bool


_INVALID = CodeTraits(400, False)  # the request (or the data it names) is wrong: retrying repeats it
_INTERRUPTED = CodeTraits(400, True)  # cancelled or timed out by its caller; nothing was recorded
_UNJOURNALABLE = CodeTraits(422, False)  # a well-formed value that cannot be journaled
_UNAVAILABLE = CodeTraits(503, True)  # the substrate or the host failed, not the request
_SUBSTRATE_400 = CodeTraits(400, True)  # a substrate failure the service has always answered 400

_JOURNAL_INFIX = "_effect_replay_"

#: Codes every substrate raises in the same shape, by tail: ``{backend}_{tail}`` has the traits of
#: its tail, whoever's backend raised it.
FAMILIES: Mapping[str, CodeTraits] = MappingProxyType(
    {
        "effect_replay_missing": _INVALID,
        "effect_replay_hash_conflict": _INVALID,
        "effect_replay_corrupt_row": _INVALID,
        "effect_replay_decode": _INVALID,
        "effect_replay_encode": _INVALID,
        "effect_replay_lease_lost": _UNAVAILABLE,
        "effect_replay_store": _UNAVAILABLE,
        "await_event_store": _UNAVAILABLE,
        "turn_store": _UNAVAILABLE,
    }
)

#: The traits of every member that is not a family code (those take their family's).
_OWN_TRAITS: dict[ErrorCode, CodeTraits] = {
    ErrorCode.MISSING_EXECUTION_SCOPE_ID: _INVALID,
    ErrorCode.INVALID_ID: _INVALID,
    ErrorCode.INVALID_ARGUMENT: _INVALID,
    ErrorCode.RUNTIME_EFFECT_INVOCATION_SUBJECT: _INVALID,
    ErrorCode.RUNTIME_EFFECT_INVOCATION_KIND: _INVALID,
    ErrorCode.RUNTIME_EFFECT_REPLAY_REQUIRED: _INVALID,
    ErrorCode.RUNTIME_EFFECT_DURABLE_STEP_ID: _INVALID,
    ErrorCode.RUNTIME_EFFECT_ENVELOPE_CANONICAL_DECODE: _INVALID,
    ErrorCode.RUNTIME_EFFECT_ENVELOPE_CANONICAL_HASH_INVARIANT: _INVALID,
    ErrorCode.RUNTIME_EFFECT_WRONG_OUTCOME: _INVALID,
    ErrorCode.RUNTIME_EFFECT_TOOL_CALL_PENDING: _INVALID,
    ErrorCode.RUNTIME_EFFECT_COMMAND: _INVALID,
    ErrorCode.RUNTIME_EFFECT_OUTCOME_DECODE: _INVALID,
    ErrorCode.CANONICAL_JSON_UNSUPPORTED_TYPE: _UNJOURNALABLE,
    ErrorCode.CANONICAL_JSON_NON_FINITE: _UNJOURNALABLE,
    ErrorCode.CANONICAL_JSON_INTEGER_RANGE: _UNJOURNALABLE,
    ErrorCode.CANONICAL_JSON_KEY_TYPE: _UNJOURNALABLE,
    ErrorCode.CANONICAL_JSON_INVALID_STRING: _UNJOURNALABLE,
    ErrorCode.CANONICAL_JSON_TOO_DEEP: _UNJOURNALABLE,
    ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_UNAVAILABLE: _INVALID,
    ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH: _INVALID,
    ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED: _INTERRUPTED,
    ErrorCode.AWAIT_EVENT_UNSUPPORTED: _INVALID,
    ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED: CodeTraits(404, False),
    ErrorCode.INVALID_AWAIT_EVENT_WAIT_IDENTITY: _INVALID,
    ErrorCode.INVALID_AWAIT_EVENT_SESSION_ID: _INVALID,
    ErrorCode.AWAIT_EVENT_TOKEN_MALFORMED: _INVALID,
    ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID: CodeTraits(422, False),
    ErrorCode.AWAIT_EVENT_CANCEL_UNSUPPORTED: _INVALID,
    ErrorCode.TURN_CONTROL_WAIT_CANCELLED: _INTERRUPTED,
    ErrorCode.TURN_CONTROL_WAIT_TIMEOUT: _INTERRUPTED,
    ErrorCode.RECORDING_EFFECT_HOST_UNSUPPORTED_COMMAND: _INVALID,
    ErrorCode.TURN_CONTEXT_MISSING: _INVALID,
    ErrorCode.TURN_NOT_FOUND: CodeTraits(404, False),
    ErrorCode.TURN_START_CONFLICT: CodeTraits(409, False),
    ErrorCode.TURN_NOT_RESUMABLE: CodeTraits(409, False),
    ErrorCode.TURN_KEY_REUSED: _INVALID,
    # the turn's own terminal: the same call on the same turn answers it again
    ErrorCode.TURN_CANCELLED: CodeTraits(409, False),
    ErrorCode.TURN_LEASE_LOST: _UNAVAILABLE,
    # the turn's own failure, recorded: the same call on the same turn answers it again
    ErrorCode.TURN_FAILED: CodeTraits(422, False),
    ErrorCode.TURN_STEP_FAILED: CodeTraits(422, False),
    ErrorCode.TURN_RESULT_TIMEOUT: _INTERRUPTED,
    ErrorCode.TURN_PAYLOAD_TOO_LARGE: CodeTraits(413, False),
    ErrorCode.TURNS_UNSUPPORTED: _INVALID,
    ErrorCode.HOST_URL_INVALID: _INVALID,
    ErrorCode.HOST_URL_UNSUPPORTED: _INVALID,
    ErrorCode.HOST_CLOSED: _UNAVAILABLE,
    ErrorCode.HOST_OPTION_INVALID: _INVALID,
    ErrorCode.EXTRA_NOT_INSTALLED: _INVALID,
    ErrorCode.SCHEMA_CHECK_UNSUPPORTED: _INVALID,
    ErrorCode.SQLITE_EFFECT_JOURNAL_RETIREMENT: _SUBSTRATE_400,
    ErrorCode.SQLITE_SCHEMA_TOO_NEW: _INVALID,
    ErrorCode.SQLITE_SCHEMA_UNKNOWN: _INVALID,
    ErrorCode.POSTGRES_EFFECT_JOURNAL_RETIREMENT: _SUBSTRATE_400,
    ErrorCode.POSTGRES_SCHEMA_TOO_NEW: _INVALID,
    # the body was within the HTTP limit, but the value exceeds the store's payload limit
    ErrorCode.POSTGRES_PAYLOAD_TOO_LARGE: CodeTraits(413, False),
    # a durable pydantic-ai run started where no turn journals it: the same call refuses again
    ErrorCode.PYDANTIC_AI_OUTSIDE_TURN: _INVALID,
    # an effect's envelope or outcome over the configured journal budget: the same effect repeats it
    ErrorCode.RESTATE_JOURNAL_BUDGET_EXCEEDED: CodeTraits(413, False),
    ErrorCode.RESTATE_EFFECT_HOST_REQUIRES_HANDLER_SCOPE: _INVALID,
    ErrorCode.RESTATE_INGRESS: _UNAVAILABLE,
    ErrorCode.RESTATE_SERVER_UNAVAILABLE: _UNAVAILABLE,
    ErrorCode.AGENT_LIMIT_REACHED: CodeTraits(422, False),
    ErrorCode.AGENT_TOOL_FAILED: CodeTraits(422, False),
    ErrorCode.AGENT_TOOL_ERROR: CodeTraits(422, False),
    # the provider was busy or down (429, 5xx, no connection): the same request can succeed later
    ErrorCode.MODEL_UNAVAILABLE: _UNAVAILABLE,
    ErrorCode.MODEL_REQUEST_REJECTED: _INVALID,
    ErrorCode.MODEL_RESPONSE_INVALID: CodeTraits(422, False),
    ErrorCode.SESSION_UNKNOWN: CodeTraits(404, False),
    ErrorCode.SESSION_LIVE: CodeTraits(409, False),
    ErrorCode.SERVER_UNREACHABLE: _UNAVAILABLE,
    # an effect's envelope, outcome or a turn's input over the history budget: the same repeats it
    ErrorCode.TEMPORAL_HISTORY_BUDGET_EXCEEDED: CodeTraits(413, False),
    ErrorCode.TEMPORAL_EFFECT_HOST_REQUIRES_WORKFLOW_SCOPE: _INVALID,
    ErrorCode.TEMPORAL_CLIENT: _UNAVAILABLE,
    ErrorCode.TEMPORAL_SERVER_UNAVAILABLE: _UNAVAILABLE,
    ErrorCode.TEMPORAL_BLOB_MISSING: _UNAVAILABLE,
}


def backend_code(backend: str, suffix: str) -> str:
    """``{backend}_effect_replay_{suffix}`` — the journal codes every substrate shares in shape."""
    return f"{backend}{_JOURNAL_INFIX}{suffix}"


def family_of(code: str) -> str | None:
    """The :data:`FAMILIES` tail of a ``{backend}_{tail}`` code (a non-empty backend), else None."""
    code = str(code)
    for tail in FAMILIES:
        if code.endswith(f"_{tail}") and len(code) > len(tail) + 1:
            return tail
    return None


def _member_traits(code: ErrorCode) -> CodeTraits:
    own = _OWN_TRAITS.get(code)
    tail = family_of(code)
    if (own is None) == (tail is None):
        # a developer error, raised when effecthost is imported: every member has exactly one entry
        raise RuntimeError(f"ErrorCode.{code.name} needs exactly one of: an _OWN_TRAITS entry, a family")
    return own if own is not None else FAMILIES[tail or ""]


#: Every member's traits: its own, or its family's.
TRAITS: Mapping[str, CodeTraits] = MappingProxyType({code.value: _member_traits(code) for code in ErrorCode})


def traits_of(code: str) -> CodeTraits | None:
    """The traits of a code this library raises, or of any backend's family code; None for codes
    that are not effecthost's (an executor's own errors, journaled and replayed verbatim)."""
    traits = TRAITS.get(str(code))
    if traits is None and (tail := family_of(code)) is not None:
        traits = FAMILIES[tail]
    return traits


#: Replay-mismatch codes of other systems, carried when their journaled errors are.
_FOREIGN_REPLAY_MISMATCH_CODES = frozenset({"restate_effect_hash_mismatch"})


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
        """A journal conflict between a recorded and a reconstructed envelope (any backend)."""
        foreign = self.code in _FOREIGN_REPLAY_MISMATCH_CODES
        return foreign or family_of(self.code) == "effect_replay_hash_conflict"

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
