"""How a public module claims the names it re-exports from ``_private``."""

from __future__ import annotations

import contextlib
from typing import Any


def claim_exports(namespace: dict[str, Any]) -> None:
    """Set ``__module__`` of every name in ``namespace["__all__"]`` that lives in ``_private`` to the
    public module (``namespace["__name__"]``): ``repr()``, tracebacks and docs then show where users
    import it from, not where it happens to be implemented. The first public module to claim a
    name keeps it, so a name re-exported by a second public module still shows the first one."""
    public = namespace["__name__"]
    for name in namespace["__all__"]:
        value = namespace[name]
        module = getattr(value, "__module__", None)
        if isinstance(module, str) and module.startswith("effecthost._private"):
            # a value whose module cannot be set (a type alias) stays as it is
            with contextlib.suppress(AttributeError, TypeError):
                value.__module__ = public
