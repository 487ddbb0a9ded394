"""Journal rows, claim requests, decisions and the store Protocol every substrate implements.

A store does I/O only. Inside ONE short write transaction its ``claim`` reads the row for
``(scope_key, replay_key)``, asks :func:`effecthost._private.journal.decisions.decide_claim` what to
do (a pure function), applies the write the decision names (insert or take over), commits, and
returns the decision. Everything else (waiting, running the executor, renewing, finalizing,
diagnostics) lives in the driver, written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Status = Literal["in_progress", "completed", "failed"]


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

    def values(self) -> tuple[object, ...]:
        """The fields in declaration order: the column order both SQL stores use."""
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


class JournalStore(Protocol):
    """The journal half of a substrate. ``backend`` prefixes codes: ``{backend}_effect_replay_*``."""

    @property
    def backend(self) -> str: ...

    async def claim(self, request: ClaimRequest) -> Decision:
        """One write transaction: read row, ``decide_claim``, apply its write, commit."""
        ...

    # Optional, found with getattr by the driver:
    #   async def preload(self, scope_key: str) -> list[JournalRow]
    # the scope's completed and failed rows from a plain read (they never change again);
    # ``envelope_json`` may be "" in them.

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        """Extend a live lease to ``now + ttl``; False when the fence no longer matches (lease lost)."""
        ...

    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,
    ) -> bool:
        """Fenced write of the outcome or error; False when the lease was lost or expired.

        ``canonical``: the caller wrote the texts with ``canonical.dumps`` (the driver always
        does), so a store that checks texts are JSON may skip parsing them again.
        """
        ...

    async def release(self, fence: LeaseFence) -> bool:
        """Fenced delete of an in-progress row whose execution ended without an outcome."""
        ...

    async def retire_session(self, session_id: str) -> int:
        """Delete every row of the session (turn, drain and delete scopes); return the count.

        A session's rows are the rows of its scopes, whose v2 journal keys name the session: a
        store may find them by key (``session_journal_key_ranges``) instead of by an index.
        """
        ...

    async def retire_scope(self, scope_key: str) -> int:
        """Delete the rows of exactly this scope key; return the count."""
        ...

    async def list_sessions(self, limit: int = 100, offset: int = 0) -> list[SessionSummary]: ...

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        """Scopes of a session, or the session-free scopes (process, runtime operation) for None."""
        ...

    async def list_effects(
        self, scope_key: str, limit: int | None = None, offset: int = 0
    ) -> list[JournalRow]:
        """The scope's rows in the total order ``(created_at_ms, replay_key)``: all of them, or the
        page of at most ``limit`` rows after skipping ``offset``."""
        ...

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None: ...

    def now_ms(self) -> int:
        """The store's lease clock as seen by this process (the database may use its own)."""
        ...


def as_dict(row: JournalRow) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(row)
