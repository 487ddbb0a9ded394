"""A turn's timeline read from its workflow's history.

Each effect is one ``effecthost.effect`` local activity: its marker (``core_local_activity``)
holds the activity's data (sequence, type, schedule and completion times) and its result,
effecthost's record, decoded with the controllers' codec (``effecthost.engine``). A wait's record
holds only its envelope: its outcome is the ``settled`` signal the session workflow sent for it
(the first one per wait, as the workflow keeps it). The turn's other events (workflow tasks,
timers, memo updates, the session local activities) are not effects and are skipped.

A local activity's marker is written with the workflow task that follows it, so an effect still
running is not in the history yet: Temporal lists a turn's effects once they have ended.
"""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from effecthost import EffectHostError, ErrorCode, ExecutionScope
from effecthost.engine import TimelineEntry, load_effect_record, timeline_rows
from effecthost.store import JournalRow

from ..kit import wait_of_record
from .config import EFFECT_ACTIVITY, wait_id

_MARKER = "core_local_activity"
#: Events after which the workflow runs no more effects.
_CLOSED = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


async def _decode(converter: DataConverter, payloads: list[Payload]) -> list[Any] | None:
    """The payloads' values through the client's converter (its codec too); None when they do not
    decode (the listing skips what it cannot read instead of failing)."""
    try:
        return await converter.decode(payloads)
    except EffectHostError:
        raise  # a payload kept by reference that this host's blob store lacks: the operator must know
    except Exception:
        return None


def _ms(value: Any) -> int | None:
    """Milliseconds of a ``{"seconds", "nanos"}`` time in a local activity's marker data."""
    if isinstance(value, dict) and isinstance(value.get("seconds"), int):
        return int(value["seconds"]) * 1000 + int(value.get("nanos") or 0) // 1_000_000
    return None


async def _effect(converter: DataConverter, event: Any, at_ms: int) -> TimelineEntry | None:
    """The effect of one local-activity marker; None for another activity's marker."""
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != _MARKER or "data" not in attributes.details:
        return None
    decoded = await _decode(converter, list(attributes.details["data"].payloads))
    data = decoded[0] if decoded else None
    if not isinstance(data, dict) or data.get("activity_type") != EFFECT_ACTIVITY:
        return None
    updated = _ms(data.get("complete_time")) or at_ms
    # the schedule time can read a little after the completion (set from another clock reading)
    created = min(_ms(data.get("original_schedule_time")) or updated, updated)
    raw: str | None = None
    if "result" in attributes.details:
        result = await _decode(converter, list(attributes.details["result"].payloads))
        raw = result[0] if result and isinstance(result[0], str) else None
    if raw is None:  # failed inside Temporal (a timeout), or unreadable: shown as such
        failure = attributes.failure.message if attributes.HasField("failure") else "no result"
        return TimelineEntry(f"(local activity {data.get('seq')})", json.dumps(failure), created, updated)
    try:
        replay_key = json.loads(load_effect_record(raw).envelope_json)["invocation"]["replay"]["key"]
    except Exception:
        replay_key = f"(local activity {data.get('seq')})"
    return TimelineEntry(str(replay_key), raw, created, updated)


async def turn_timeline(
    session_id: str, turn_id: str, history: WorkflowHistory, converter: DataConverter
) -> list[JournalRow]:
    """The effects of one turn workflow's history as journal rows, in run order."""
    entries: list[TimelineEntry] = []
    settled: dict[str, tuple[Any, int]] = {}
    ended = False
    for event in history.events:
        at_ms = int(event.event_time.ToMilliseconds()) if event.HasField("event_time") else 0
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            entry = await _effect(converter, event, at_ms)
            if entry is not None:
                entries.append(entry)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            if attributes.signal_name == "settled":
                args = await _decode(converter, list(attributes.input.payloads))
                if args and len(args) == 2 and isinstance(args[0], str):
                    settled.setdefault(args[0], (args[1], at_ms))
        elif event.event_type in _CLOSED:
            ended = True
    for entry in entries:
        wait = wait_of_record(entry.raw, wait_id) if isinstance(entry.raw, str) else None
        if wait is not None and wait in settled:
            entry.settled, entry.updated_at_ms = settled[wait]
    scope_key = ExecutionScope.turn(session_id, turn_id).journal_key()
    return timeline_rows(
        session_id,
        turn_id,
        scope_key,
        entries,
        ended=ended,
        undecodable=ErrorCode.TEMPORAL_EFFECT_REPLAY_DECODE,
    )


