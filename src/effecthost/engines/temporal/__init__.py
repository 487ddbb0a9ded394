"""effecthost on Temporal (extra ``temporal``): the same turns on the engine many teams run.

- :class:`TemporalController`: the workflow-scoped controller (one local activity per effect
  recording envelope, hash and outcome or error as data; workflow timers; durable waits).
- :func:`temporal_worker`: a worker running the turn and session workflows for your turns.
- :class:`TemporalEffectHost`: the deployment side: mints keys, resolves/peeks/cancels/revokes
  through the session workflow, starts, awaits, cancels and lists turns.
- :class:`TemporalServer`, :class:`WorkerProcess`: run the dev server and a worker locally.
- :class:`FileBlobStore`, :func:`claim_check_converter`: large payloads kept out of the history,
  by reference (``TemporalConfig(blob_store=...)``); :func:`sweep_blobs` deletes the ones no
  history refers to any more.

See docs/temporal.md.
"""

from effecthost import EffectHostError, ErrorCode

try:
    import temporalio as _temporalio  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise EffectHostError(
        ErrorCode.EXTRA_NOT_INSTALLED,
        "effecthost.engines.temporal needs the temporal extra: pip install 'effecthost[temporal]'",
    ) from exc

from .blobs import BlobStore, BlobSweep, ClaimCheckCodec, FileBlobStore, claim_check_converter, sweep_blobs
from .config import TemporalConfig
from .controller import TemporalController
from .devserver import TemporalServer, WorkerProcess, find_server_binary, find_test_server_binary
from .host import TemporalEffectHost, TemporalTurnHandle, open_temporal_host, sweep_blob_store
from .worker import temporal_worker
from .workflows import TemporalTurnEngine

__all__ = [
    "BlobStore",
    "BlobSweep",
    "ClaimCheckCodec",
    "FileBlobStore",
    "TemporalConfig",
    "TemporalController",
    "TemporalEffectHost",
    "TemporalServer",
    "TemporalTurnEngine",
    "TemporalTurnHandle",
    "WorkerProcess",
    "claim_check_converter",
    "find_server_binary",
    "find_test_server_binary",
    "open_temporal_host",
    "sweep_blob_store",
    "sweep_blobs",
    "temporal_worker",
]
