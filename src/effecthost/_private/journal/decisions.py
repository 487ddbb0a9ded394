"""The journal's decisions as pure functions: the claim (spec 4.2 steps 2-7, 7.2 prepare), a replay
from a row already read, and what to do once the executor has run. The driver only carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import EffectHostError, ErrorCode
from .model import (
    Busy,
    Claimed,
    ClaimRequest,
    CorruptRow,
    Decision,
    HashConflict,
    Insert,
    JournalRow,
    LeaseFence,
    ReplayError,
    ReplayOutcome,
    StrictReplayMiss,
    TakeOver,
    Write,
)


def decide_claim(row: JournalRow | None, request: ClaimRequest, now_ms: int) -> tuple[Decision, Write]:
    """What to tell the driver, and what (if anything) to write in the same transaction.

    The hash check comes before the status check: a changed envelope under a recorded key is a
    non-determinism error even while the row is in progress, and even on a first run.
    """
    if row is None:
        if request.strict:
            return StrictReplayMiss(), None
        new_row = JournalRow.claimed(request, now_ms)
        return Claimed(_fence(request), new_row.due_at_ms, took_over=False), Insert(new_row)
    recorded = decide_replay(row, request.envelope_hash)
    if recorded is not None:
        return recorded, None
    if row.status == "in_progress":
        if row.lease_expires_at_ms > now_ms:
            return Busy(row.lease_expires_at_ms, now_ms), None
        # Take over an expired lease; a sleep keeps the due time recorded by the first claim.
        fresh_due = now_ms + request.sleep_ms if request.sleep_ms is not None else None
        due = row.due_at_ms if row.due_at_ms is not None else fresh_due
        write = TakeOver(request.owner, request.token, now_ms + request.ttl_ms, due, now_ms)
        return Claimed(_fence(request), due, took_over=True), write
    return CorruptRow(f"unknown runtime effect replay status `{row.status}`"), None


def decide_replay(row: JournalRow, envelope_hash: str) -> Decision | None:
    """The part of the decision that needs no claim: a recorded row, a conflict or a corrupt row.

    None means the row is in progress and the lease rules apply. The driver uses this alone for rows
    it already holds (replays then cost no store round trip).
    """
    if row.envelope_hash != envelope_hash:
        return HashConflict(row.envelope_hash, row.envelope_json)
    status = row.status
    if status == "completed":
        if row.outcome_json is None:
            return CorruptRow("completed runtime effect row is missing outcome_json")
        return ReplayOutcome(row.outcome_json, row.due_at_ms)
    if status == "failed":
        if row.error_json is None:
            return CorruptRow("failed runtime effect row is missing error_json")
        return ReplayError(row.error_json)
    if status == "in_progress":
        return None
    return CorruptRow(f"unknown runtime effect replay status `{status}`")


def _fence(request: ClaimRequest) -> LeaseFence:
    return LeaseFence(
        request.scope_key, request.replay_key, request.envelope_hash, request.owner, request.token
    )


# ---- after the executor ran ------------------------------------------------------------------

#: Errors that end an execution without being an outcome: the claim is released so the next
#: drive re-executes instead of replaying a failure that was never the effect's answer. A
#: cancelled sleep is this drive's decision; an unavailable or mismatched local executor is this
#: drive's configuration (a replay-only caller reaching an unrecorded effect), a closed host is
#: this process going away — journaling any of them would poison the key for every later drive.
UNJOURNALED_CODES = frozenset(
    {
        ErrorCode.HOST_CLOSED.value,
        ErrorCode.RUNTIME_EFFECT_SLEEP_CANCELLED.value,
        ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_UNAVAILABLE.value,
        ErrorCode.RUNTIME_EFFECT_LOCAL_EXECUTOR_MISMATCH.value,
    }
)


def is_journaled(error: EffectHostError) -> bool:
    """Whether ``error`` is the effect's answer. An await event whose own substrate failed
    (``*_await_event_store``: a full disk, a lost connection) got no answer at all: recording the
    outage would replay it to every later drive instead of waiting again."""
    return error.code not in UNJOURNALED_CODES and not error.code.endswith("_await_event_store")


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """Finalize the claim with the executor's outcome (``completed``)."""


@dataclass(frozen=True, slots=True)
class RecordError:
    """Finalize the claim with the effect's error (``failed``); every later drive replays it."""


@dataclass(frozen=True, slots=True)
class ReleaseAndRaise:
    """Give the claim back and raise the error: it was this drive's, not the effect's answer."""


@dataclass(frozen=True, slots=True)
class ReportLeaseLost:
    """The lease was taken away while the executor ran: its result is discarded."""


AfterRun = RecordOutcome | RecordError | ReleaseAndRaise | ReportLeaseLost
# The steps carry no data: one instance each, so deciding allocates nothing (it runs per effect).
_RECORD_OUTCOME, _RECORD_ERROR = RecordOutcome(), RecordError()
_RELEASE_AND_RAISE, _REPORT_LEASE_LOST = ReleaseAndRaise(), ReportLeaseLost()


def decide_after_run(error: EffectHostError | None, lease_lost: bool) -> AfterRun:
    """What the driver does with a finished execution (the executor returned or raised a coded
    error). A lost lease wins: the row may already be someone else's."""
    if lease_lost:
        return _REPORT_LEASE_LOST
    if error is None:
        return _RECORD_OUTCOME
    return _RECORD_ERROR if is_journaled(error) else _RELEASE_AND_RAISE
