"""Every change a turn record goes through, as pure functions ``record -> record | None``.

A store applies one inside its write transaction (:class:`.store.TurnStore`). None means "write
nothing": the caller then reads from the returned record why (another owner holds the turn, it
already ended, ...). Fenced changes check ``owner`` first, so a driver whose lease was lost can
never overwrite what its successor wrote.
"""

from __future__ import annotations

import dataclasses

from ..core import canonical
from ..core.errors import EffectHostError, ErrorCode
from .model import HELD, TurnRecord, TurnStatus, is_runnable
from .store import Change

_CANCELLED_ERROR = canonical.dumps(
    EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled").to_json()
)


#: What a turn waits for, cleared: it waits for nothing (a claim, an end, a release).
_NOT_WAITING: dict[str, object] = {"waiting_json": None, "wake_at_ms": None, "wait_key_id": ""}
#: The driver lets go: nobody holds the turn and it waits for nothing.
_LET_GO: dict[str, object] = {"owner": "", "lease_expires_at_ms": 0, **_NOT_WAITING}


def new_turn(session_id: str, turn_id: str, name: str, input_json: str, now_ms: int) -> TurnRecord:
    return TurnRecord(session_id, turn_id, name, input_json, TurnStatus.PENDING, now_ms, now_ms)


#: How many drive starts a turn's meta keeps (the newest): a turn woken thousands of times keeps
#: a bounded record; the timeline attributes effects older than the first kept drive to none.
DRIVES_KEPT = 100


def with_drive(meta_json: str, drive: int, now_ms: int) -> str:
    """``meta_json`` with drive number ``drive`` started at ``now_ms`` appended to ``"drives"``
    (``[drive, started_at_ms]`` pairs, oldest first): what the console's timeline derives
    "executed in drive N, replayed by every later drive" from, written with the claim itself
    (no write of its own, nothing per effect). Other keys (``carried``, ``grants``...) stay."""
    meta = canonical.loads(meta_json) if meta_json != "{}" else {}
    if not isinstance(meta, dict):
        return meta_json
    drives = meta.get("drives")
    kept = [d for d in drives if isinstance(d, list)] if isinstance(drives, list) else []
    kept.append([drive, now_ms])
    meta["drives"] = kept[-DRIVES_KEPT:]
    return canonical.dumps(meta)


def claim(owner: str, now_ms: int, ttl_ms: int) -> Change:
    """Take a runnable turn: it is running, held by ``owner``, and waits for nothing until the
    re-drive finds out again what it waits for. The drive's number (its attempt) and start go to
    the meta's ``drives`` (:func:`with_drive`)."""

    def change(record: TurnRecord) -> TurnRecord | None:
        if not is_runnable(record, now_ms):
            return None
        attempt = record.attempts + 1
        return dataclasses.replace(
            record,
            status=TurnStatus.RUNNING,
            owner=owner,
            lease_expires_at_ms=now_ms + ttl_ms,
            attempts=attempt,
            meta_json=with_drive(record.meta_json, attempt, now_ms),
            updated_at_ms=now_ms,
            **_NOT_WAITING,  # type: ignore[arg-type]
        )

    return change


def renew(owner: str, now_ms: int, ttl_ms: int) -> Change:
    def change(record: TurnRecord) -> TurnRecord | None:
        if record.owner != owner or record.status not in HELD:
            return None
        return dataclasses.replace(record, lease_expires_at_ms=now_ms + ttl_ms)

    return change


def _fenced(fence: str, **values: object) -> Change:
    """Write ``values`` only while ``fence`` holds the turn."""

    def change(record: TurnRecord) -> TurnRecord | None:
        if record.owner != fence or record.status not in HELD:
            return None
        return dataclasses.replace(record, **values)  # type: ignore[arg-type]

    return change


def complete(owner: str, result_json: str, now_ms: int) -> Change:
    return _fenced(
        owner,
        status=TurnStatus.COMPLETED,
        result_json=result_json,
        error_json=None,
        updated_at_ms=now_ms,
        **_LET_GO,
    )


def fail(owner: str, error_json: str, meta_json: str, now_ms: int) -> Change:
    return _fenced(
        owner,
        status=TurnStatus.FAILED,
        error_json=error_json,
        meta_json=meta_json,
        updated_at_ms=now_ms,
        **_LET_GO,
    )


def end_cancelled(owner: str, now_ms: int) -> Change:
    return _fenced(
        owner,
        status=TurnStatus.CANCELLED,
        error_json=_CANCELLED_ERROR,
        updated_at_ms=now_ms,
        **_LET_GO,
    )


def park(
    owner: str,
    status: TurnStatus,
    waiting_json: str | None,
    wait_key_id: str,
    wake_at_ms: int | None,
    now_ms: int,
    *,
    suspend: bool,
    meta_json: str | None = None,
) -> Change:
    """The turn waits (``status`` waiting or sleeping) or runs again (``running``). ``suspend``:
    its driver lets go, and the turn is runnable again at ``wake_at_ms`` or when woken.
    ``meta_json``: the driver's bookkeeping written with it (None: unchanged)."""
    values: dict[str, object] = {
        "status": status,
        "waiting_json": waiting_json,
        "wait_key_id": wait_key_id,
        "wake_at_ms": wake_at_ms if suspend else None,
        "updated_at_ms": now_ms,
    }
    if suspend:
        values.update(owner="", lease_expires_at_ms=0)
    if meta_json is not None:
        values["meta_json"] = meta_json
    return _fenced(owner, **values)


def set_meta(owner: str, meta_json: str) -> Change:
    """The driver's bookkeeping, written while ``owner`` holds the turn (values an interceptor
    carries across drives)."""
    return _fenced(owner, meta_json=meta_json)


def release(owner: str, now_ms: int) -> Change:
    """The driver stops without an end (its worker shuts down): runnable again at once."""
    return _fenced(
        owner,
        status=TurnStatus.PENDING,
        updated_at_ms=now_ms,
        **_LET_GO,
    )


def wake(key_id: str, now_ms: int) -> Change:
    """The await event ``key_id`` resolved: a suspended turn waiting on it is runnable now."""

    def change(record: TurnRecord) -> TurnRecord | None:
        if record.held or record.status is not TurnStatus.WAITING or record.wait_key_id != key_id:
            return None
        if record.wake_at_ms is not None and record.wake_at_ms <= now_ms:
            return None
        return dataclasses.replace(record, wake_at_ms=now_ms, updated_at_ms=now_ms)

    return change


def request_cancel(now_ms: int) -> Change:
    """An ended turn stays as it is; an unheld one ends cancelled now; a held one is asked to stop
    (its driver ends it at the next effect boundary)."""

    def change(record: TurnRecord) -> TurnRecord | None:
        if record.status.terminal:
            return None
        if not record.held:
            return dataclasses.replace(
                record,
                status=TurnStatus.CANCELLED,
                error_json=_CANCELLED_ERROR,
                cancel_requested=True,
                updated_at_ms=now_ms,
                **_NOT_WAITING,  # type: ignore[arg-type]
            )
        if record.cancel_requested:
            return None
        return dataclasses.replace(record, cancel_requested=True, updated_at_ms=now_ms)

    return change


def resume(meta_json: str, now_ms: int) -> Change:
    """A failed turn runs again: pending, its error set aside in ``meta_json`` by the caller."""

    def change(record: TurnRecord) -> TurnRecord | None:
        if record.status is not TurnStatus.FAILED:
            return None
        return dataclasses.replace(
            record,
            status=TurnStatus.PENDING,
            error_json=None,
            resumes=record.resumes + 1,
            meta_json=meta_json,
            updated_at_ms=now_ms,
        )

    return change
