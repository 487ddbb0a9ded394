"""The effecthost HTTP service (``pip install 'effecthost[server]'``).

Every module of this package imports it first, so the check below turns a missing Starlette,
uvicorn or h11 into one error naming the extra, whichever module was asked for. ``create_app`` is
still imported lazily: ``import effecthost.server.protocol`` does not build the application.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

#: What the server extra installs that this package imports directly.
SERVER_MODULES = ("starlette", "uvicorn", "h11")


def _require_server_extra() -> None:
    for module in SERVER_MODULES:
        # find_spec only looks for the package (it imports nothing, so uvicorn is not loaded by an
        # app served some other way); None also when sys.modules blocks the name.
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(
                f"effecthost.server needs the server extra ({module} is not installed): "
                "pip install 'effecthost[server]'",
                name=module,
            )


_require_server_extra()

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
