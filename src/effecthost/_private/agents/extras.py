"""Optional dependencies, imported when first needed; a missing one is a coded error naming the
extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..core.errors import EffectHostError, ErrorCode


def require(module: str, extra: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise EffectHostError(
            ErrorCode.EXTRA_NOT_INSTALLED,
            f"{what} needs {exc.name}: pip install 'effecthost[{extra}]'",
        ) from None
