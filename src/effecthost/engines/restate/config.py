"""What the endpoint and the deployment-side host share: names, the signing secret, budgets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from effecthost import AwaitEventKey

from ..kit import check_byte_sizes, check_secret, key_digest, secret_from_env

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
        check_secret(self.secret)
        check_byte_sizes(self, ("journal_budget_bytes", "max_payload_bytes"))

    @classmethod
    def from_env(cls, **options: int) -> RestateConfig:
        """The secret from ``$EFFECTHOST_RESTATE_SECRET`` (hex, at least 16 bytes)."""
        return cls(secret_from_env(SECRET_ENV), **options)

    @staticmethod
    def new_secret() -> str:
        """A fresh hex secret for ``$EFFECTHOST_RESTATE_SECRET``."""
        return secrets.token_hex(32)


def wait_key(key: AwaitEventKey) -> str:
    """The durable-wait workflow's key: the SHA-256 of the key id (never the id or the token)."""
    return key_digest(key)


def index_key(key: AwaitEventKey) -> str:
    """The virtual object that serialises the key's session (or, without one, the key alone)."""
    session = key.scope.session_id
    return f"session:{session}" if session else f"unscoped:{wait_key(key)}"


def session_index_key(session_id: str) -> str:
    return f"session:{session_id}"


def turn_key(session_id: str, turn_id: str) -> str:
    """The turn workflow's key: one Restate invocation per (session, turn)."""
    return f"{len(session_id)}:{session_id}/{turn_id}"
