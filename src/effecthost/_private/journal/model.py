"""Journal values: rows, claim requests, lease fences and timings, decisions, write instructions.

Pure data. The store Protocols that move these values are in :mod:`.store`; the pure functions
that decide with them are in :mod:`.decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.commands import EffectEnvelope, Sleep
from ..core.errors import EffectHostError, ErrorCode

Status = Literal["in_progress", "completed", "failed"]
#: The longest durable sleep: its due time (now + duration, in ms) must fit a signed 64-bit
#: column on every substrate; 2**62 ms is about 146 million years.
MAX_SLEEP_MS = 2**62


@dataclass(slots=True)
class JournalRow:
    """One journal row as stored. Times are integer milliseconds on the store's lease clock."""

    scope_key: str  # ExecutionScope.journal_key() (v2 JSON)
    replay_key: str
    session_id: str | None
    envelope_hash: str
    envelope_json: str
    status: str  # kept as str: a corrupt row may hold anything
    outcome_json: str | None
    error_json: str | None
    lease_owner: str | None
    lease_token: str | None
    lease_expires_at_ms: int
    due_at_ms: int | None
    created_at_ms: int
    updated_at_ms: int
    effect_kind: str = ""
    effect_id: str = ""
    #: The effect's run order in its scope (1, 2, ...: the order of first claims), given by the
    #: store when it inserts the row; 0 until then. Listings sort by it.
    seq: int = 0

    @classmethod
    def claimed(cls, request: ClaimRequest, now_ms: int) -> JournalRow:
        """The in-progress row a first claim inserts: leased to the claimer for ``ttl_ms``, and a
        sleep's due time fixed once, now."""
        due = now_ms + request.sleep_ms if request.sleep_ms is not None else None
        # Positional, in field order (as in ClaimRequest.for_envelope): this runs per first claim.
        return cls(
            request.scope_key, request.replay_key, request.session_id, request.envelope_hash,
            request.envelope_json, "in_progress", None, None, request.owner, request.token,
            now_ms + request.ttl_ms, due, now_ms, now_ms, request.effect_kind, request.effect_id,
        )  # fmt: skip

    def values(self) -> tuple[object, ...]:
        """The fields in declaration order up to ``effect_id``: the column order both SQL stores
        insert (``seq`` is computed by the store in the insert itself)."""
        return (
            self.scope_key, self.replay_key, self.session_id, self.envelope_hash, self.envelope_json,
            self.status, self.outcome_json, self.error_json, self.lease_owner, self.lease_token,
            self.lease_expires_at_ms, self.due_at_ms, self.created_at_ms, self.updated_at_ms,
            self.effect_kind, self.effect_id,
        )  # fmt: skip


@dataclass(slots=True)
class ClaimRequest:
    scope_key: str
    replay_key: str
    session_id: str | None
    envelope_hash: str
    envelope_json: str
    effect_kind: str
    effect_id: str
    owner: str
    token: str  # fresh lease token for this attempt
    ttl_ms: int
    sleep_ms: int | None  # duration for sleep commands: due_at = now + sleep_ms on first claim
    strict: bool  # start_replay(): a missing row is an error, not a claim
    #: The caller wrote ``envelope_json`` with ``canonical.dumps`` (the driver always does): a
    #: store that checks texts are JSON may skip parsing it again.
    canonical: bool = False

    @classmethod
    def for_envelope(
        cls,
        envelope: EffectEnvelope,
        scope_key: str,
        session_id: str | None,
        owner: str,
        token: str,
        ttl_ms: int,
        strict: bool,
    ) -> ClaimRequest:
        """The claim the driver makes for ``envelope``: its texts come from ``canonical.dumps``."""
        command = envelope.command
        sleep_ms = None
        if isinstance(command, Sleep):
            sleep_ms = command.duration_ms
            if sleep_ms > MAX_SLEEP_MS:
                # A valid u64 (spec 2.6), but its due time would not fit the journal's 64-bit
                # timestamps: refused here with a code instead of failing inside the store.
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"a durable sleep of {sleep_ms} ms ends past what the journal can schedule "
                    f"(at most {MAX_SLEEP_MS} ms)",
                )
        # Positional, in field order: keyword arguments cost ~6k instructions here, 5 % of a
        # journaled effect on the memory substrate (bench/instructions.py).
        return cls(
            scope_key,
            envelope.replay_key,
            session_id,
            envelope.stable_hash(),
            envelope.canonical_json(),
            str(command.kind),  # the plain text of the StrEnum
            envelope.effect_id,
            owner,
            token,
            ttl_ms,
            sleep_ms,
            strict,
            True,
        )


class LeaseTimings:
    """ttl ≥ 1 ms, renew ≥ 1 ms, ttl ≥ 3 x renew; by default a lease renews every third of its ttl."""

    __slots__ = ("renew_ms", "ttl_ms")

    def __init__(self, ttl_ms: int, renew_ms: int | None = None) -> None:
        renew = renew_ms if renew_ms is not None else max(1, ttl_ms // 3)
        if ttl_ms < 1 or renew < 1 or ttl_ms < 3 * renew:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID, "lease ttl must be ≥ 1 ms and at least 3x the renewal"
            )
        self.ttl_ms = ttl_ms
        self.renew_ms = renew


@dataclass(slots=True)
class LeaseFence:
    """What renew/finalize must match: all five plus ``in_progress`` and an unexpired lease."""

    scope_key: str
    replay_key: str
    envelope_hash: str
    owner: str
    token: str


# ---- decisions (the result of a claim) -------------------------------------------------------


@dataclass(slots=True)
class Claimed:
    """The caller owns the row now (fresh insert or take-over) and must execute then finalize."""

    fence: LeaseFence
    due_at_ms: int | None
    took_over: bool


@dataclass(slots=True)
class ReplayOutcome:
    outcome_json: str
    due_at_ms: int | None


@dataclass(slots=True)
class ReplayError:
    error_json: str


@dataclass(slots=True)
class Busy:
    """Someone else holds a live lease; retry at (or before) ``retry_at_ms``."""

    retry_at_ms: int
    now_ms: int


@dataclass(slots=True)
class StrictReplayMiss:
    pass


@dataclass(slots=True)
class HashConflict:
    recorded_hash: str
    recorded_json: str


@dataclass(slots=True)
class CorruptRow:
    message: str


Decision = Claimed | ReplayOutcome | ReplayError | Busy | StrictReplayMiss | HashConflict | CorruptRow


@dataclass(slots=True)
class Insert:
    """Write instruction: insert this new in-progress row."""

    row: JournalRow


@dataclass(slots=True)
class TakeOver:
    """Write instruction: set lease owner/token/expiry (and due time) on the existing row."""

    owner: str
    token: str
    lease_expires_at_ms: int
    due_at_ms: int | None
    updated_at_ms: int

    def values(self, scope_key: str, replay_key: str) -> tuple[object, ...]:
        """SET owner, token, expiry, due time, updated time … WHERE scope_key, replay_key."""
        return (
            self.owner, self.token, self.lease_expires_at_ms, self.due_at_ms, self.updated_at_ms,
            scope_key, replay_key,
        )  # fmt: skip


Write = Insert | TakeOver | None


# ---- browsing --------------------------------------------------------------------------------


@dataclass(slots=True)
class SessionSummary:
    session_id: str
    scopes: int
    effects: int
    in_progress: int
    failed: int
    first_at_ms: int
    last_at_ms: int


@dataclass(slots=True)
class ScopeSummary:
    scope_key: str
    session_id: str | None
    effects: int
    in_progress: int
    failed: int
    first_at_ms: int
    last_at_ms: int
