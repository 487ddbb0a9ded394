"""A turn's timeline read from its invocation's journal (the admin API's ``sys_journal``).

Each effect is a ``Run`` command named after its replay key, whose completion (a ``Run``
notification with the same completion id) carries effecthost's record; the record is decoded
with the controllers' codec (``effecthost.engine``). A run without its completion yet is an
effect still running. A wait's record holds only its envelope: its outcome is the completion of
the call to the durable-wait workflow (``EffecthostWait/{sha256(key id)}/wait``). The turn's
other entries (its input, state, timers, calls to the wait index, its output) are not effects
and are skipped.

The entries' shape is the one restate-server 1.7 gives in ``entry_json``: ``{"Command":
{"Run": {"completion_id", "name"}}}``, ``{"Notification": {"Completion": {"Run":
{"completion_id", "result": {"Success": [bytes]} | {"Failure": ...}}}}}``, and the same for
``Call`` (its request's ``invocation_target`` and ``result_completion_id``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from effecthost import ErrorCode, ExecutionScope
from effecthost.engine import UNSETTLED, TimelineEntry, timeline_rows
from effecthost.store import JournalRow

from ..kit import wait_of_record
from .config import WAIT_SERVICE, wait_key

#: The columns the listing reads (``raw`` and the lite JSON are left in the server).
JOURNAL_COLUMNS = "index, entry_type, name, entry_json, appended_at"


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(str(row.get("entry_json") or ""))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _completion(entry: dict[str, Any], kind: str) -> tuple[int, Any] | None:
    """(completion id, result) of a ``Notification: {kind}`` entry."""
    body = entry.get("Notification", {})
    body = body.get("Completion", {}).get(kind) if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("completion_id"), int):
        return None
    return body["completion_id"], body.get("result")


def _payload(result: Any) -> bytes | None:
    """A successful completion's bytes; None for a failure (or a shape this module does not know)."""
    success = result.get("Success") if isinstance(result, dict) else None
    if isinstance(success, list) and all(isinstance(b, int) and 0 <= b < 256 for b in success):
        return bytes(success)
    return None


def _wait_call(entry: dict[str, Any]) -> tuple[str, int] | None:
    """(wait workflow key, result completion id) of a call to the durable wait's ``wait``."""
    call = entry.get("Command", {})
    call = call.get("Call") if isinstance(call, dict) else None
    if not isinstance(call, dict):
        return None
    target = call.get("request", {}).get("invocation_target", {}).get("Workflow", {})
    if target.get("name") != WAIT_SERVICE or target.get("handler") != "wait":
        return None
    completion = call.get("result_completion_id")
    return (str(target.get("key")), completion) if isinstance(completion, int) else None


def turn_timeline(
    session_id: str, turn_id: str, journal: list[dict[str, Any]], *, ended: bool, ms: Callable[[Any], int]
) -> list[JournalRow]:
    """The effects of one turn invocation's journal rows (``ORDER BY index``) as journal rows;
    ``ms`` converts the server's ``appended_at`` to wall-clock milliseconds."""
    runs: dict[int, TimelineEntry] = {}  # by completion id
    entries: list[TimelineEntry] = []
    results: dict[int, tuple[Any, int]] = {}  # completion id -> (result, appended at)
    wait_calls: dict[str, int] = {}  # wait key -> the completion id of its result
    for row in journal:
        entry, at = _entry(row), ms(row.get("appended_at"))
        command = entry.get("Command", {})
        run = command.get("Run") if isinstance(command, dict) else None
        if isinstance(run, dict) and isinstance(run.get("completion_id"), int):
            timeline = TimelineEntry(str(run.get("name") or row.get("name") or ""), None, at, at)
            runs[run["completion_id"]] = timeline
            entries.append(timeline)
            continue
        call = _wait_call(entry)
        if call is not None:
            wait_calls.setdefault(call[0], call[1])
            continue
        for kind in ("Run", "Call"):
            done = _completion(entry, kind)
            if done is not None:
                results[done[0]] = (done[1], at)
    for completion_id, timeline in runs.items():
        if completion_id in results:
            result, at = results[completion_id]
            payload = _payload(result)
            # a failed run (effecthost's runs return their errors as data) does not decode
            timeline.raw = payload if payload is not None else json.dumps(result)
            timeline.updated_at_ms = at
    for timeline in entries:
        wait = wait_of_record(timeline.raw if isinstance(timeline.raw, bytes) else None, wait_key)
        completion = wait_calls.get(wait) if wait is not None else None
        if completion is not None and completion in results:
            result, at = results[completion]
            payload = _payload(result)
            try:
                timeline.settled = json.loads(payload) if payload is not None else UNSETTLED
            except ValueError:
                timeline.settled = UNSETTLED
            timeline.updated_at_ms = at
    scope_key = ExecutionScope.turn(session_id, turn_id).journal_key()
    return timeline_rows(
        session_id,
        turn_id,
        scope_key,
        [t for t in entries if t.replay_key],
        ended=ended,
        undecodable=ErrorCode.RESTATE_EFFECT_REPLAY_DECODE,
    )
