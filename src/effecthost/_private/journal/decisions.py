"""The claim decision (spec 4.2 steps 2-7, 7.2 prepare): a pure function of a row, a request, a time."""

from __future__ import annotations

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
        due = now_ms + request.sleep_ms if request.sleep_ms is not None else None
        new_row = JournalRow(
            scope_key=request.scope_key,
            replay_key=request.replay_key,
            session_id=request.session_id,
            envelope_hash=request.envelope_hash,
            envelope_json=request.envelope_json,
            status="in_progress",
            outcome_json=None,
            error_json=None,
            lease_owner=request.owner,
            lease_token=request.token,
            lease_expires_at_ms=now_ms + request.ttl_ms,
            due_at_ms=due,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
            effect_kind=request.effect_kind,
            effect_id=request.effect_id,
        )
        return Claimed(_fence(request), due, took_over=False), Insert(new_row)
    if row.envelope_hash != request.envelope_hash:
        return HashConflict(row.envelope_hash, row.envelope_json), None
    if row.status == "completed":
        if row.outcome_json is None:
            return CorruptRow("completed runtime effect row is missing outcome_json"), None
        return ReplayOutcome(row.outcome_json, row.due_at_ms), None
    if row.status == "failed":
        if row.error_json is None:
            return CorruptRow("failed runtime effect row is missing error_json"), None
        return ReplayError(row.error_json), None
    if row.status == "in_progress":
        if row.lease_expires_at_ms > now_ms:
            return Busy(row.lease_expires_at_ms, now_ms), None
        # Take over an expired lease; a sleep keeps the due time recorded by the first claim.
        fresh_due = now_ms + request.sleep_ms if request.sleep_ms is not None else None
        due = row.due_at_ms if row.due_at_ms is not None else fresh_due
        write = TakeOver(request.owner, request.token, now_ms + request.ttl_ms, due, now_ms)
        return Claimed(_fence(request), due, took_over=True), write
    return CorruptRow(f"unknown runtime effect replay status `{row.status}`"), None


def _fence(request: ClaimRequest) -> LeaseFence:
    return LeaseFence(
        request.scope_key, request.replay_key, request.envelope_hash, request.owner, request.token
    )
