"""What both engines' configs check alike: the signing secret (and reading it from the
environment), byte budgets, and the digest that names a wait inside the engine."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from effecthost import (
    AwaitEventKey,
    EffectHostError,
    ErrorCode,
)


def check_secret(secret: object) -> None:
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, "the signing secret needs at least 16 bytes")


def check_byte_sizes(config: object, names: Iterable[str]) -> None:
    """Each named attribute of ``config`` is an int of at least 1024 (a budget, a payload bound)."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID, f"{name} is an int of at least 1024, not {value!r}"
            )


def secret_from_env(variable: str) -> bytes:
    """The hex signing secret in ``$variable`` (at least 16 bytes)."""
    try:
        secret = bytes.fromhex(os.environ.get(variable, ""))
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"${variable} must hold a hex secret of at least 16 bytes"
            " (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)",
        )
    return secret


def key_digest(key: AwaitEventKey) -> str:
    """A wait's name inside the engine: the SHA-256 of the key id (never the id or the token)."""
    return hashlib.sha256(key.key_id.encode("utf-8", "surrogatepass")).hexdigest()
