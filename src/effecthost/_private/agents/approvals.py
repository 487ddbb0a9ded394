"""Approvals: what an approver answers a tool call's wait with, and how the loop reads it.

The wait's question is ``{"agent", "tool", "call_id", "arguments", "description"}``. The answer is
a ``Resolution`` (from any host, the HTTP service or the CLI):

- ``Resolution.ok({"approved": true})`` (or ``ok(true)``): run the call as the model asked;
- ``Resolution.ok({"approved": true, "arguments": {...}})``: run it with these arguments instead;
- ``Resolution.ok({"approved": false, "reason": "..."})`` (or ``ok(false)``, or any ``err``): do
  not run it; the model is told it was rejected, and why;
- a timeout: not run; the model is told no approval came in time;
- ``Resolution.CANCELLED`` (the turn was cancelled): the agent stops, ``cancelled``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..core.resolutions import Resolution


def approve(*, note: str | None = None) -> Resolution:
    """Run the tool call as the model asked."""
    return Resolution.ok({"approved": True} if note is None else {"approved": True, "note": note})


def reject(reason: str) -> Resolution:
    """Do not run it; ``reason`` is shown to the model."""
    return Resolution.ok({"approved": False, "reason": reason})


def edit(arguments: Mapping[str, Any]) -> Resolution:
    """Run it with these arguments instead of the model's (validated against the tool's schema)."""
    return Resolution.ok({"approved": True, "arguments": dict(arguments)})


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """How the loop reads an approver's answer."""

    verdict: str  # "approved", "rejected", "timeout", "cancelled"
    reason: str = ""
    arguments: dict[str, Any] | None = None


def decide(resolution: Resolution) -> Decision:
    if resolution.status == "timeout":
        return Decision("timeout", "no approval arrived before the deadline")
    if resolution.status == "cancelled":
        return Decision("cancelled", "the turn was cancelled")
    if resolution.status == "err":
        payload = resolution.payload if isinstance(resolution.payload, Mapping) else {}
        return Decision("rejected", str(payload.get("message") or payload.get("code") or "rejected"))
    value = resolution.value
    if value is True or value == "approve":
        return Decision("approved")
    if value is False or value == "reject":
        return Decision("rejected", "rejected by the approver")
    if isinstance(value, Mapping) and isinstance(value.get("approved"), bool):
        if not value["approved"]:
            return Decision("rejected", str(value.get("reason") or "rejected by the approver"))
        arguments = value.get("arguments")
        if arguments is not None and not isinstance(arguments, Mapping):
            return Decision("rejected", "the approver's edited arguments are not a JSON object")
        return Decision("approved", arguments=None if arguments is None else dict(arguments))
    return Decision("rejected", f"the approver's answer was not understood: {value!r}"[:300])
