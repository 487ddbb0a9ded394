"""The record an engine journals for each effect, and the timeline rows read back from it.

An engine-backed host (Restate, Temporal) keeps a turn's effects in the engine: each effect is
one journaled value, the record ``{"envelope": {"json", "hash"}, "outcome": {"Ok": outcome} |
{"Err": error}}`` in canonical JSON. The controllers write and replay it with
:func:`dump_effect_record`/:func:`load_effect_record`; the hosts read it back with the same
functions to list a turn's timeline as :class:`JournalRow` values, the shape the SQL hosts list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import canonical
from ..core.errors import EffectHostError, ErrorCode
from ..core.identity import EffectKind
from ..core.outcomes import AwaitEventOutcome, SleepOutcome
from ..core.resolutions import Resolution
from .model import JournalRow

#: The kinds an effect's replay key may name (``{session}:{turn}:{index}:{iteration}:{kind}:{id}``).
_KINDS = frozenset(str(kind) for kind in EffectKind)


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """One decoded record: the envelope as journaled and the outcome's or the error's JSON."""

    envelope_json: str
    envelope_hash: str
    #: The outcome's JSON (None for an envelope-only record: a sleep's, a wait's).
    ok: Any
    #: The error's JSON (``EffectHostError.to_json()``), or None when the effect succeeded.
    err: Any

    @property
    def effect_kind(self) -> str:
        return str(self._subject().get("kind", ""))

    @property
    def effect_id(self) -> str:
        return str(self._subject().get("effect_id", ""))

    def _subject(self) -> dict[str, Any]:
        try:
            subject = canonical.loads(self.envelope_json)["invocation"]["subject"]
        except (ValueError, KeyError, TypeError):
            return {}
        return subject if isinstance(subject, dict) else {}


def dump_effect_record(envelope_json: str, envelope_hash: str, body: dict[str, Any]) -> str:
    """The record's canonical JSON; ``body`` is ``{"Ok": outcome}`` or ``{"Err": error}``."""
    return canonical.dumps({"envelope": {"json": envelope_json, "hash": envelope_hash}, "outcome": body})


def load_effect_record(raw: str | bytes) -> EffectRecord:
    """Decode a record; ``ValueError`` when ``raw`` is not one (the caller names its own code)."""
    try:
        record = canonical.loads(raw.decode() if isinstance(raw, bytes) else raw)
        head, body = record["envelope"], record["outcome"]
        text, digest = head["json"], head["hash"]
        if not isinstance(text, str) or not isinstance(digest, str) or not isinstance(body, dict):
            raise TypeError("a record's envelope is two texts and its outcome an object")
        if "Err" in body:
            return EffectRecord(text, digest, None, body["Err"])
        return EffectRecord(text, digest, body.get("Ok"), None)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not an effect record: {type(exc).__name__}") from None


# -- timeline rows -------------------------------------------------------------------------------

#: ``settled`` when the engine did not (or not yet) say how a wait ended.
UNSETTLED: Any = object()
#: The status of a journaled value that does not decode as a record (shown, never raised).
UNREADABLE = "unreadable"


def _split_replay_key(replay_key: str, session_id: str, turn_id: str) -> tuple[str, str]:
    """(kind, effect id) from a turn effect's replay key, ("", "") when it is not one."""
    prefix = f"{session_id}:{turn_id}:"
    if not replay_key.startswith(prefix):
        return "", ""
    parts = replay_key[len(prefix) :].split(":", 3)
    if len(parts) != 4 or parts[2] not in _KINDS:
        return "", ""
    return parts[2], parts[3]


@dataclass(slots=True)
class TimelineEntry:
    """One effect as an engine journaled it, before it becomes a row.

    ``raw`` is the journaled record (None while the effect runs); ``settled`` is a wait's
    terminal (:data:`UNSETTLED` when the engine has none); times are wall-clock milliseconds."""

    replay_key: str
    raw: str | bytes | None
    created_at_ms: int
    updated_at_ms: int
    settled: Any = UNSETTLED


def timeline_rows(
    session_id: str,
    turn_id: str,
    scope_key: str,
    entries: list[TimelineEntry],
    *,
    ended: bool,
    undecodable: ErrorCode,
) -> list[JournalRow]:
    """The turn's effects as journal rows in run order (``seq`` 1, 2, ...), each replay key once.

    ``ended``: the turn finished, so a wait whose resolution the engine does not hold is over
    all the same (``completed`` with no outcome) rather than ``in_progress``. A journaled value
    that is not a record is listed with the status ``unreadable`` and ``undecodable`` (the
    engine's replay-decode code) as its error: the listing never fails on one entry."""
    rows: list[JournalRow] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.replay_key in seen:
            continue  # a replayed effect: the engine answered its first record
        seen.add(entry.replay_key)
        row = _row(session_id, turn_id, scope_key, entry, ended, undecodable)
        row.seq = len(rows) + 1
        rows.append(row)
    return rows


def _row(
    session_id: str, turn_id: str, scope_key: str, entry: TimelineEntry, ended: bool, undecodable: ErrorCode
) -> JournalRow:
    kind, effect_id = _split_replay_key(entry.replay_key, session_id, turn_id)
    row = JournalRow(
        scope_key, entry.replay_key, session_id, "", "", "in_progress", None, None, None, None, 0, None,
        entry.created_at_ms, entry.updated_at_ms, kind, effect_id,
    )  # fmt: skip
    if entry.raw is None:
        return row
    try:
        record = load_effect_record(entry.raw)
    except ValueError:
        row.status = UNREADABLE
        error = EffectHostError(undecodable, f"the journaled value of {entry.replay_key!r} does not decode")
        row.error_json = canonical.dumps(error.to_json())
        return row
    row.envelope_json, row.envelope_hash = record.envelope_json, record.envelope_hash
    row.effect_kind = record.effect_kind or kind
    row.effect_id = record.effect_id or effect_id
    if record.err is not None:
        row.status, row.error_json = "failed", canonical.dumps(record.err)
    elif row.effect_kind == EffectKind.AWAIT_EVENT:
        settle_wait_row(row, entry.settled, ended=ended)
    elif row.effect_kind == EffectKind.SLEEP:
        row.status, row.outcome_json = "completed", canonical.dumps(SleepOutcome().to_json())
    else:
        row.status, row.outcome_json = "completed", canonical.dumps(record.ok)
    return row


def settle_wait_row(row: JournalRow, settled: Any, *, ended: bool) -> None:
    """A wait's record holds only its envelope: its outcome is the terminal the engine holds
    (``settled``: a resolution's JSON, the revoked tombstone, or :data:`UNSETTLED`)."""
    if settled is UNSETTLED:
        row.status = "completed" if ended else "in_progress"
        return
    if isinstance(settled, dict) and settled.get("revoked") is True:
        error = EffectHostError(
            ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, "await-event key is invalid or revoked"
        )
        row.status, row.error_json = "failed", canonical.dumps(error.to_json())
        return
    try:
        resolution = Resolution.from_json(settled)
    except (EffectHostError, ValueError, KeyError, TypeError):
        row.status = "completed" if ended else "in_progress"
        return
    row.status = "completed"
    row.outcome_json = canonical.dumps(AwaitEventOutcome(resolution).to_json())
