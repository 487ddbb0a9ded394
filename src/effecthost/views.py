"""The JSON shapes of sessions, scopes, journal rows and await keys.

The HTTP API (``effecthost.server``) answers with them and the command line prints them for
``--json``, so both faces show one shape. Public and free of any web framework or terminal
import: the command line uses it without the server extra, and a program can render the same
JSON from a :class:`~effecthost.store.JournalRow` it read through ``host.browser``.
"""

from __future__ import annotations

import json
from typing import Any

from . import AwaitEventKey, EffectHostError, ExecutionScope
from .store import JournalRow, ScopeSummary, SessionSummary


def _parse(text: str | None) -> Any:
    """Stored JSON as a tree; a corrupt column is shown raw instead of failing the whole page."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"unparsed": text}


def scope_json(scope_key: str) -> dict[str, Any] | None:
    """The ExecutionScope JSON of a journal key, or None when the key is not a v2 key."""
    try:
        return ExecutionScope.from_journal_key(scope_key).to_json()
    except EffectHostError:
        return None


def session_view(summary: SessionSummary) -> dict[str, Any]:
    return {
        "session_id": summary.session_id,
        "scopes": summary.scopes,
        "effects": summary.effects,
        "in_progress": summary.in_progress,
        "failed": summary.failed,
        "first_at_ms": summary.first_at_ms,
        "last_at_ms": summary.last_at_ms,
    }


def scope_view(summary: ScopeSummary) -> dict[str, Any]:
    return {
        "scope_key": summary.scope_key,
        "scope": scope_json(summary.scope_key),
        "session_id": summary.session_id,
        "effects": summary.effects,
        "in_progress": summary.in_progress,
        "failed": summary.failed,
        "first_at_ms": summary.first_at_ms,
        "last_at_ms": summary.last_at_ms,
    }


def _await_token(envelope: Any) -> str | None:
    """The token of an await_event envelope's key, so an operator can resolve it from the row."""
    try:
        key = AwaitEventKey.from_json(envelope["command"]["key"])
        return key.to_token()
    except (EffectHostError, KeyError, TypeError):
        return None


def effect_view(row: JournalRow) -> dict[str, Any]:
    envelope = _parse(row.envelope_json)
    view: dict[str, Any] = {
        "scope_key": row.scope_key,
        "replay_key": row.replay_key,
        "effect_id": row.effect_id,
        "seq": row.seq,
        "kind": row.effect_kind,
        "status": row.status,
        "envelope_hash": row.envelope_hash,
        "envelope": envelope,
        "outcome": _parse(row.outcome_json),
        "error": _parse(row.error_json),
        "created_at_ms": row.created_at_ms,
        "updated_at_ms": row.updated_at_ms,
        "lease_expires_at_ms": row.lease_expires_at_ms,
        "due_at_ms": row.due_at_ms,
        "await_token": None,
    }
    if row.effect_kind == "await_event":
        view["await_token"] = _await_token(envelope)
    return view


def await_key_view(key: AwaitEventKey) -> dict[str, Any]:
    return {
        "token": key.to_token(),
        "key_id": key.key_id,
        "scope": key.scope.to_json(),
        "scope_key": key.scope.journal_key(),
        "wait": key.wait.to_json(),
    }


__all__ = ["await_key_view", "effect_view", "scope_json", "scope_view", "session_view"]
