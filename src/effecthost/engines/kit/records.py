"""Reading back what an engine kept: an effect's record checked against the current envelope,
the wait an ``await_event`` record parks on, a resolve's answer and a wait's terminal."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from effecthost import (
    AwaitEventKey,
    EffectEnvelope,
    EffectHostError,
    ErrorCode,
    Outcome,
    Resolution,
    ResolveOutcome,
    SleepOutcome,
)
from effecthost.engine import (
    load_effect_record,
    mismatch_error,
    outcome_from_json,
    settle_wait_row,
)
from effecthost.store import JournalRow

from .errors import unknown_or_revoked


def outcome_of_record(
    raw: bytes | str,
    envelope: EffectEnvelope,
    *,
    envelope_only: bool,
    decode_code: ErrorCode,
    recorded_as: str,
    conflict_code: ErrorCode,
    on_conflict: Callable[[], None] | None = None,
) -> Outcome:
    """The outcome an effect's journaled record answers, checked against the current envelope:
    a record that does not decode is ``decode_code`` (``recorded_as`` names it: "journaled
    run"), a different envelope hash is ``conflict_code`` with the divergent paths (after
    ``on_conflict``), a recorded error is raised. ``envelope_only``: a sleep's or a wait's record,
    whose outcome the caller produces."""
    key = envelope.replay_key
    try:
        record = load_effect_record(raw)
    except ValueError:
        raise EffectHostError(decode_code, f"the {recorded_as} {key!r} does not decode") from None
    if record.envelope_hash != envelope.stable_hash():
        if on_conflict is not None:
            on_conflict()
        raise mismatch_error(
            conflict_code,
            record.envelope_hash,
            record.envelope_json,
            envelope.stable_hash(),
            envelope.canonical_json(),
        )
    if record.err is not None:
        raise EffectHostError.from_json(record.err)
    if envelope_only:
        return SleepOutcome()
    return outcome_from_json(record.ok)


def wait_of_record(raw: bytes | str | None, name_of: Callable[[AwaitEventKey], str]) -> str | None:
    """The engine's name (``name_of`` its key) of the wait an ``await_event`` effect record
    parks on; None for any other record, or one a listing cannot follow (its wait stays
    unsettled)."""
    if raw is None:
        return None
    try:
        command = json.loads(load_effect_record(raw).envelope_json)["command"]
        if command.get("type") != "await_event":
            return None
        return name_of(AwaitEventKey.from_json(command["key"]))
    except Exception:
        return None


def resolve_outcome(answer: Any) -> ResolveOutcome:
    """A resolve's answer from the engine's wait index (``accepted``, ``already_resolved`` with
    the standing terminal, anything else: unknown or revoked)."""
    status = answer.get("status") if isinstance(answer, dict) else None
    if status == "accepted":
        return ResolveOutcome.ACCEPTED
    if status == "already_resolved":
        terminal = answer.get("terminal")
        if isinstance(terminal, dict) and terminal.get("revoked") is True:
            return ResolveOutcome.UNKNOWN_OR_REVOKED
        return ResolveOutcome.already_resolved(Resolution.from_json(terminal))
    return ResolveOutcome.UNKNOWN_OR_REVOKED


def terminal_of(value: Any) -> Resolution:
    """A wait's terminal as the engine keeps it; the revoked tombstone is refused."""
    if isinstance(value, dict) and value.get("revoked") is True:
        raise unknown_or_revoked()
    return Resolution.from_json(value)


async def settle_early_waits(
    rows: list[JournalRow], terminal_of: Callable[[AwaitEventKey], Awaitable[Any]]
) -> None:
    """The waits a turn's journal leaves unanswered, answered by the engine's wait index, which
    ``terminal_of`` asks (None: none yet). Temporal: a wait resolved before the turn reached it is
    answered by the session's ``register``, not by a ``settled`` signal. Restate: a turn cancelled
    while parked stops before its wait call's result is journaled."""
    for row in rows:
        if row.effect_kind != "await_event" or row.outcome_json or row.error_json or not row.envelope_json:
            continue
        try:
            key = AwaitEventKey.from_json(json.loads(row.envelope_json)["command"]["key"])
            terminal = await terminal_of(key)
        except Exception:  # the index cannot say (no worker answers): the row stays as it is
            continue
        if terminal is not None:
            settle_wait_row(row, terminal, ended=row.status == "completed")
