"""Replay-mismatch diagnostics (spec 4.6): which JSON paths differ between recorded and current."""

from __future__ import annotations

from typing import Any

from ..core import canonical
from ..core.errors import EffectHostError, ErrorCode

MAX_REPORTED_PATHS = 8
_MISSING = object()


def divergent_paths(recorded: Any, current: Any, path: str = "") -> list[str]:
    out: list[str] = []
    _walk(recorded, current, path, out)
    return out


def _walk(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            child = f"{path}.{key}" if path else key
            _walk(a.get(key, _MISSING), b.get(key, _MISSING), child, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _walk(a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING, f"{path}[{i}]", out)
        return
    if a is _MISSING or b is _MISSING or type(a) is not type(b) or a != b:
        out.append(path)


def mismatch_error(
    code: str, recorded_hash: str, recorded_json: str, current_hash: str, current_json: str
) -> EffectHostError:
    """The backend's hash-conflict error, with ``summary`` = count and the first divergent paths."""
    if recorded_json == current_json:
        return EffectHostError(
            ErrorCode.RUNTIME_EFFECT_ENVELOPE_CANONICAL_HASH_INVARIANT,
            "recorded envelope JSON is identical but its hash differs",
        )
    try:
        paths = divergent_paths(canonical.loads(recorded_json), canonical.loads(current_json))
    except ValueError:
        # A journal written before envelope JSON was recorded cannot be diffed: report the hashes.
        paths = []
        if recorded_json:
            return EffectHostError(
                ErrorCode.RUNTIME_EFFECT_ENVELOPE_CANONICAL_DECODE, "recorded envelope JSON does not parse"
            )
    shown = paths[:MAX_REPORTED_PATHS]
    listed = ", ".join(shown)
    if len(paths) > len(shown):
        listed += f", <{len(paths) - len(shown)} more paths elided>"
    message = (
        f"recorded runtime effect hash {recorded_hash} did not match reconstructed envelope hash "
        f"{current_hash}; divergent_path_count={len(paths)}; divergent_paths=[{listed}]"
    )
    summary = {"divergent_path_count": len(paths), "first_divergent_paths": shown}
    return EffectHostError(code, message, summary=summary)
