"""The effecthost HTTP service (``pip install effecthost[server]``).

``create_app`` is imported lazily so that :mod:`effecthost.server.views` (used by the command line)
does not pull in Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
