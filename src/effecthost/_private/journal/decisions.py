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
        new_row = JournalRow(  # positional, in field order: this runs for every first-run claim
            request.scope_key,
            request.replay_key,
            request.session_id,
            request.envelope_hash,
            request.envelope_json,
            "in_progress",
            None,  # outcome_json
            None,  # error_json
            request.owner,
            request.token,
            now_ms + request.ttl_ms,  # lease_expires_at_ms
            due,
            now_ms,  # created_at_ms
            now_ms,  # updated_at_ms
            request.effect_kind,
            request.effect_id,
        )
        return Claimed(_fence(request), due, took_over=False), Insert(new_row)
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
