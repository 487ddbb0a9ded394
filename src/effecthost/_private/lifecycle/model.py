"""A turn's durable record and its states.

A record is one row per (session id, turn id). Every change to it is a pure function from the
record read to the record written (:mod:`.transitions`), applied by a store inside one write
transaction, so the rules live once and each store does I/O only (as the journal's claim does).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, fields

from ..core.errors import EffectHostError, ErrorCode


class TurnStatus(enum.StrEnum):
    """Where a turn is in its life. The last three are terminal."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SLEEPING = "sleeping"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED})
#: States in which a driver may hold the turn (its task parked on a wait or sleep still holds it).
HELD = frozenset({TurnStatus.RUNNING, TurnStatus.WAITING, TurnStatus.SLEEPING})


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn. ``owner`` is the driver holding it ("" when nobody does) until
    ``lease_expires_at_ms``; ``wake_at_ms`` is when an unheld waiting or sleeping turn becomes
    runnable (a sleep's due time, a wait's deadline, or the moment its await event resolved)."""

    session_id: str
    turn_id: str
    name: str
    input_json: str
    status: TurnStatus
    created_at_ms: int
    updated_at_ms: int
    result_json: str | None = None
    error_json: str | None = None
    #: How many times a driver has claimed the turn (1 on a first run that never crashed).
    attempts: int = 0
    owner: str = ""
    lease_expires_at_ms: int = 0
    #: What it waits for, as canonical JSON: ``{"kind": "wait", "name", "key", "question",
    #: "deadline_at_ms"}`` or ``{"kind": "sleep", "until_ms"}``; None when it waits for nothing.
    waiting_json: str | None = None
    wake_at_ms: int | None = None
    #: The key id of the await event it waits on ("" when none): a resolve wakes the turn by it.
    wait_key_id: str = ""
    cancel_requested: bool = False
    #: How many times an operator resumed it after a failure.
    resumes: int = 0
    #: Driver bookkeeping as canonical JSON: the effect a failure came from, resume grants.
    meta_json: str = "{}"

    @property
    def held(self) -> bool:
        return self.owner != ""


#: Column order of the SQL stores: the record's fields, in declaration order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TurnRecord))


def record_from_row(row: tuple[object, ...]) -> TurnRecord:
    """A record from a row in :data:`COLUMNS` order (SQL stores keep booleans as integers)."""
    values = dict(zip(COLUMNS, row, strict=True))
    values["status"] = TurnStatus(str(values["status"]))
    values["cancel_requested"] = bool(values["cancel_requested"])
    return TurnRecord(**values)  # type: ignore[arg-type]


def record_to_row(record: TurnRecord) -> tuple[object, ...]:
    return tuple(
        int(value) if isinstance(value, bool) else str(value) if isinstance(value, TurnStatus) else value
        for value in (getattr(record, name) for name in COLUMNS)
    )


#: The wake-up topic every runnable-making change publishes: workers watch it.
RUNNABLE_TOPIC = "turns:runnable"


def ended_topic(session_id: str, turn_id: str) -> str:
    """The wake-up topic of one turn's changes that a result waiter cares about (end, cancel).
    A digest, so that a topic is short and safe on every channel whatever the ids hold."""
    digest = hashlib.sha256(f"{session_id}\x00{turn_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"turn:{digest[:32]}"


def topics_for(before: TurnRecord | None, after: TurnRecord) -> tuple[str, ...]:
    """What a store publishes after committing ``before`` → ``after``: the runnable topic when the
    turn may now be claimed (new, released, woken, resumed), the turn's own topic on every change
    of status or cancel request."""
    topics: list[str] = []
    if (
        not after.held
        and not after.status.terminal
        and (after.status is TurnStatus.PENDING or after.wake_at_ms is not None)
    ):
        topics.append(RUNNABLE_TOPIC)
    if (
        before is None
        or before.status is not after.status
        or before.cancel_requested != after.cancel_requested
    ):
        topics.append(ended_topic(after.session_id, after.turn_id))
    return tuple(topics)


def is_runnable(record: TurnRecord, now_ms: int) -> bool:
    """What a worker may claim: unheld and pending, unheld and due, or held on an expired lease.
    The SQL stores say the same in their WHERE clause (the kit checks they agree)."""
    if record.status.terminal:
        return False
    if record.held:
        return record.lease_expires_at_ms <= now_ms
    if record.status is TurnStatus.PENDING:
        return True
    return record.wake_at_ms is not None and record.wake_at_ms <= now_ms


def next_wake_ms(record: TurnRecord) -> int | None:
    """When ``record`` becomes runnable by time alone (None: never, or only by an event)."""
    if record.status.terminal:
        return None
    if record.held:
        return record.lease_expires_at_ms
    if record.status is TurnStatus.PENDING:
        return record.created_at_ms
    return record.wake_at_ms


def turns_unsupported(backend: str) -> EffectHostError:
    return EffectHostError(
        ErrorCode.TURNS_UNSUPPORTED, f"the {backend} substrate keeps no turn records (Substrate.turns)"
    )
