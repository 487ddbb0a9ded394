"""What the endpoint and the deployment-side host share: names, the signing secret, budgets."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

from effecthost import AwaitEventKey, EffectHostError, ErrorCode

#: The Restate services effecthost binds on every endpoint (an unbound one is a terminal 404).
TURN_SERVICE = "EffecthostTurn"
WAIT_SERVICE = "EffecthostWait"
INDEX_SERVICE = "EffecthostWaitIndex"

#: The environment variable holding the hex signing secret shared by endpoints and hosts.
SECRET_ENV = "EFFECTHOST_RESTATE_SECRET"

DEFAULT_JOURNAL_BUDGET_BYTES = 1 << 20
DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class RestateConfig:
    """Shared by the endpoint (handlers) and the deployment-side host (ingress client).

    ``secret`` signs await-event keys (HMAC-SHA256, effecthost's v3 keys): both sides must hold
    the same one. ``journal_budget_bytes`` bounds each journaled run's envelope and its outcome;
    ``max_payload_bytes`` bounds a turn's result and a step's value, as on the SQL hosts."""

    secret: bytes
    journal_budget_bytes: int = DEFAULT_JOURNAL_BUDGET_BYTES
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) < 16:
            raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, "the signing secret needs at least 16 bytes")
        for name in ("journal_budget_bytes", "max_payload_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
                raise EffectHostError(
                    ErrorCode.HOST_OPTION_INVALID, f"{name} is an int of at least 1024, not {value!r}"
                )

    @classmethod
    def from_env(cls, **options: int) -> RestateConfig:
        """The secret from ``$EFFECTHOST_RESTATE_SECRET`` (hex, at least 16 bytes)."""
        text = os.environ.get(SECRET_ENV, "")
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) < 16:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID,
                f"${SECRET_ENV} must hold a hex secret of at least 16 bytes"
                " (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)",
            )
        return cls(secret, **options)

    @staticmethod
    def new_secret() -> str:
        """A fresh hex secret for ``$EFFECTHOST_RESTATE_SECRET``."""
        return secrets.token_hex(32)


def wait_key(key: AwaitEventKey) -> str:
    """The durable-wait workflow's key: the SHA-256 of the key id (never the id or the token)."""
    return hashlib.sha256(key.key_id.encode("utf-8", "surrogatepass")).hexdigest()


def index_key(key: AwaitEventKey) -> str:
    """The virtual object that serialises the key's session (or, without one, the key alone)."""
    session = key.scope.session_id
    return f"session:{session}" if session else f"unscoped:{wait_key(key)}"


def session_index_key(session_id: str) -> str:
    return f"session:{session_id}"


def turn_key(session_id: str, turn_id: str) -> str:
    """The turn workflow's key: one Restate invocation per (session, turn)."""
    return f"{len(session_id)}:{session_id}/{turn_id}"
