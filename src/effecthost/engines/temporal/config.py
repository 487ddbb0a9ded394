"""What the worker and the deployment-side host share: names, the signing secret, budgets."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from temporalio.converter import DataConverter

from effecthost import AwaitEventKey, EffectHostError, ErrorCode

from .. import kit
from .blobs import DEFAULT_BLOB_THRESHOLD_BYTES, BlobStore, FileBlobStore, claim_check_converter

#: The workflow types and the activities effecthost registers on every worker.
TURN_WORKFLOW = "EffecthostTurn"
SESSION_WORKFLOW = "EffecthostSession"
EFFECT_ACTIVITY = "effecthost.effect"
SESSION_ACTIVITY = "effecthost.session"

#: The environment variable holding the hex signing secret shared by workers and hosts.
SECRET_ENV = "EFFECTHOST_TEMPORAL_SECRET"
#: A directory for payloads kept by reference (a :class:`FileBlobStore`), shared by workers and hosts.
BLOBS_ENV = "EFFECTHOST_TEMPORAL_BLOBS"

DEFAULT_TASK_QUEUE = "effecthost"
#: Temporal's own limits are 2 MB per payload and 50 MB per history: each record stays well under.
DEFAULT_HISTORY_BUDGET_BYTES = 256 * 1024
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class TemporalConfig:
    """Shared by the worker (workflows, activities) and the deployment-side host (client).

    ``secret`` signs await-event keys (HMAC-SHA256, effecthost's v3 keys): both sides hold the same
    one. ``history_budget_bytes`` bounds each effect's envelope and outcome and a turn's input
    before they reach a workflow's history; ``max_payload_bytes`` bounds a turn's result and a
    step's value, as on the SQL hosts. ``effect_timeout`` is an effect activity's start-to-close
    timeout (a worker lost mid-effect is noticed after it, and the effect runs again).

    ``blob_store`` keeps payloads above ``blob_threshold_bytes`` out of the history, by reference
    (see :mod:`effecthost.engines.temporal.blobs`): an effect's outcome is then bounded by
    ``max_payload_bytes`` instead of the history budget. Workers connect their client with
    :meth:`data_converter`; the host does so itself."""

    secret: bytes
    task_queue: str = DEFAULT_TASK_QUEUE
    namespace: str = "default"
    history_budget_bytes: int = DEFAULT_HISTORY_BUDGET_BYTES
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    effect_timeout: timedelta = timedelta(minutes=5)
    #: A turn workflow's task timeout: how soon a turn whose worker died moves to another worker.
    task_timeout: timedelta = timedelta(seconds=10)
    blob_store: BlobStore | None = None
    blob_threshold_bytes: int = DEFAULT_BLOB_THRESHOLD_BYTES

    def __post_init__(self) -> None:
        kit.check_secret(self.secret)
        kit.check_byte_sizes(self, ("history_budget_bytes", "max_payload_bytes", "blob_threshold_bytes"))
        for name in ("task_queue", "namespace"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise EffectHostError(
                    ErrorCode.HOST_OPTION_INVALID, f"{name} is a non-empty str, not {value!r}"
                )
        for name in ("effect_timeout", "task_timeout"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value.total_seconds() <= 0:
                raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, f"{name} is a positive timedelta")

    @property
    def record_budget_bytes(self) -> int:
        """What an effect's record (envelope and outcome) may weigh: the history budget, or with a
        blob store (the record goes by reference) the payload budget beside the envelope's."""
        if self.blob_store is None:
            return self.history_budget_bytes
        return self.max_payload_bytes + self.history_budget_bytes

    def data_converter(self) -> DataConverter:
        """The data converter a client of this namespace needs: Temporal's default, with the
        claim-check codec when a blob store is configured."""
        if self.blob_store is None:
            return DataConverter.default
        return claim_check_converter(self.blob_store, self.blob_threshold_bytes)

    @classmethod
    def from_env(cls, **options: object) -> TemporalConfig:
        """The secret from ``$EFFECTHOST_TEMPORAL_SECRET`` (hex, at least 16 bytes); a blob store
        from ``$EFFECTHOST_TEMPORAL_BLOBS`` (a directory) unless ``blob_store`` is given."""
        blobs = os.environ.get(BLOBS_ENV, "")
        if blobs and "blob_store" not in options:
            options["blob_store"] = FileBlobStore(blobs)
        return cls(kit.secret_from_env(SECRET_ENV), **options)  # type: ignore[arg-type]

    @staticmethod
    def new_secret() -> str:
        """A fresh hex secret for ``$EFFECTHOST_TEMPORAL_SECRET``."""
        return secrets.token_hex(32)


def check_budget(what: str, text: str, budget: int) -> None:
    """Refuse ``text`` over the history budget before it reaches a workflow's history."""
    kit.refuse_over_budget(
        ErrorCode.TEMPORAL_HISTORY_BUDGET_EXCEEDED, "Temporal history budget", what, text, budget
    )


def wait_id(key: AwaitEventKey) -> str:
    """A wait's name inside its session workflow: the SHA-256 of the key id (never the token)."""
    return kit.key_digest(key)


def session_workflow_id(key: AwaitEventKey) -> str:
    """The workflow that serialises the key's session (or, without one, the key alone)."""
    session = key.scope.session_id
    return session_workflow_id_of(session) if session else f"effecthost-wait/{wait_id(key)}"


def session_workflow_id_of(session_id: str) -> str:
    return f"effecthost-session/{session_id}"


def turn_workflow_id(session_id: str, turn_id: str) -> str:
    """The turn workflow's id: one workflow per (session, turn)."""
    return f"effecthost-turn/{len(session_id)}:{session_id}/{turn_id}"


def turn_workflow_prefix(session_id: str) -> str:
    return f"effecthost-turn/{len(session_id)}:{session_id}/"
