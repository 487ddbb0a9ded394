"""Large values by reference: a payload codec that keeps big payloads out of Temporal's history.

Temporal keeps every effect's record (and a turn's input and result) in the workflow's history,
which it caps at 2 MB a payload and 50 MB a history. With a :class:`BlobStore` configured
(``TemporalConfig(blob_store=...)``), every payload above ``blob_threshold_bytes`` is written to the
store under the SHA-256 of its bytes and the history holds only that reference; reading a history
(a replaying worker, the host awaiting a result or listing a timeline) fetches it back and checks
the hash. This is Temporal's claim-check pattern, done by the data converter: it runs outside the
workflow sandbox, so the turn code sees whole values and replays deterministically.

Every worker and every host of the namespace must use the same store: a history written with
references cannot be read without it (``temporal_blob_missing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.service import RPCError, RPCStatusCode

from effecthost import EffectHostError, ErrorCode

#: The encoding of a payload that is a reference (its metadata carries the SHA-256).
REFERENCE_ENCODING = b"effecthost/blob-ref"
#: Payloads above this many bytes go to the blob store (Temporal warns at 256 KiB).
DEFAULT_BLOB_THRESHOLD_BYTES = 64 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    """Where payloads kept by reference live, by the hex SHA-256 of their bytes."""

    async def put(self, digest: str, data: bytes) -> None:
        """Store ``data`` (whose SHA-256 is ``digest``) durably before returning."""
        ...

    async def get(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, or None."""
        ...


class FileBlobStore:
    """A directory every worker and host can read (a local disk for one machine, a shared mount
    for many). Each blob is one file named after its digest, written to a temporary name, synced
    and renamed, so a crash never leaves a partial blob under a real name."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise EffectHostError(ErrorCode.TEMPORAL_BLOB_MISSING, f"not a blob digest: {digest!r}")
        return self.directory / digest[:2] / digest

    async def put(self, digest: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, digest, data)

    def _put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            # content-addressed: the same bytes are there already. Touched, so a sweep that
            # listed it as old while no history referred to it yet lets it be (the grace period)
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)
                return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    async def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def stored(self) -> list[StoredBlob]:
        """Every blob in the directory, with its size and when it was last written."""
        return await asyncio.to_thread(self._stored)

    def _stored(self) -> list[StoredBlob]:
        found = []
        for path in self.directory.glob("??/*"):
            if not _DIGEST.match(path.name):
                continue  # a temporary file of a write under way
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                found.append(StoredBlob(path.name, stat.st_size, stat.st_mtime))
        return sorted(found)

    async def delete(self, digest: str, *, written_before: float) -> bool:
        """Delete the blob unless it was written (or written again) at ``written_before`` or
        later; whether it was deleted."""
        return await asyncio.to_thread(self._delete, digest, written_before)

    def _delete(self, digest: str, written_before: float) -> bool:
        path = self._path(digest)
        try:
            if path.stat().st_mtime >= written_before:
                return False  # written again since the sweep listed it: a history may refer to it
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.directory)!r})"


@dataclasses.dataclass(frozen=True, order=True)
class StoredBlob:
    digest: str
    size_bytes: int
    #: When it was last written (seconds since the epoch).
    written_at: float


@dataclasses.dataclass(frozen=True)
class BlobSweep:
    """What :func:`sweep_blobs` found and did."""

    #: Blobs in the store, and how many of them a history refers to.
    stored: int
    referenced: int
    #: Referred to by no history, but written within the grace period: kept.
    recent: int
    #: Referred to by no history and older: deleted (or, on a dry run, would be).
    deleted: int
    freed_bytes: int
    #: Histories read (one per workflow run the namespace keeps).
    histories: int
    dry_run: bool

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


async def referenced_blobs(client: Client) -> tuple[set[str], int]:
    """The digests every history of the client's namespace refers to (every workflow run, open
    or closed within the namespace's retention, of any type), and how many histories were read."""
    found: set[str] = set()
    histories = 0
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue  # retention dropped it between the listing and the read
            raise
        histories += 1
        for event in history.events:
            _collect_references(event, found)
    return found, histories


def _collect_references(message: Message, found: set[str]) -> None:
    """The blob references among the payloads anywhere inside ``message`` (a history event)."""
    if isinstance(message, Payload):
        if message.metadata.get("encoding") == REFERENCE_ENCODING:
            found.add(message.metadata.get("sha256", b"").decode("ascii", "replace"))
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue  # a scalar
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif isinstance(value, Message):
            items = [value]
        else:
            items = list(value)  # a repeated message field
        for item in items:
            if isinstance(item, Message):
                _collect_references(item, found)


async def sweep_blobs(
    client: Client, store: FileBlobStore, *, grace_s: float = 86400.0, dry_run: bool = False
) -> BlobSweep:
    """Delete the blobs that no history of the client's namespace refers to any more (their
    workflows closed and Temporal's retention dropped the histories, or a worker wrote one and
    died before its history recorded it), once they are older than ``grace_s``.

    The store is listed before the histories are read, a blob written again is touched, and each
    blob is checked again just before it is deleted: a value recorded while the sweep runs was
    written (or touched) within the grace period and stays. Every
    workflow of the namespace is read, whatever its type, so a store shared with other code that
    uses :class:`ClaimCheckCodec` keeps that code's blobs too."""
    if isinstance(grace_s, bool) or not isinstance(grace_s, int | float) or grace_s < 0:
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"grace_s is seconds >= 0, not {grace_s!r}")
    stored = await store.stored()
    cutoff = time.time() - grace_s
    referenced, histories = await referenced_blobs(client)
    unreferenced = [blob for blob in stored if blob.digest not in referenced]
    old = [blob for blob in unreferenced if blob.written_at < cutoff]
    if not dry_run:  # each one checked again: written anew while the histories were read, it stays
        old = [blob for blob in old if await store.delete(blob.digest, written_before=cutoff)]
    return BlobSweep(
        stored=len(stored),
        referenced=len(stored) - len(unreferenced),
        recent=len(unreferenced) - len(old),
        deleted=len(old),
        freed_bytes=sum(blob.size_bytes for blob in old),
        histories=histories,
        dry_run=dry_run,
    )


class ClaimCheckCodec(PayloadCodec):
    """Payloads above ``threshold_bytes`` become references to ``store``; references become the
    payloads again, checked against their hash."""

    def __init__(self, store: BlobStore, threshold_bytes: int = DEFAULT_BLOB_THRESHOLD_BYTES) -> None:
        self.store = store
        self.threshold_bytes = threshold_bytes

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.ByteSize() <= self.threshold_bytes:
                out.append(payload)
                continue
            data = payload.SerializeToString()
            digest = hashlib.sha256(data).hexdigest()
            await self.store.put(digest, data)
            out.append(
                Payload(
                    metadata={"encoding": REFERENCE_ENCODING, "sha256": digest.encode("ascii")},
                    data=str(len(data)).encode("ascii"),  # the size, for a human reading history
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != REFERENCE_ENCODING:
                out.append(payload)
                continue
            digest = payload.metadata.get("sha256", b"").decode("ascii", "replace")
            data = await self.store.get(digest)
            if data is None or hashlib.sha256(data).hexdigest() != digest:
                found = "missing" if data is None else "does not match its hash"
                raise EffectHostError(
                    ErrorCode.TEMPORAL_BLOB_MISSING,
                    f"blob {digest} is {found} in {self.store!r}: every worker and host of the"
                    " namespace needs the same blob store",
                )
            whole = Payload()
            whole.ParseFromString(data)
            out.append(whole)
        return out


def claim_check_converter(
    store: BlobStore, threshold_bytes: int = DEFAULT_BLOB_THRESHOLD_BYTES
) -> DataConverter:
    """Temporal's default data converter with :class:`ClaimCheckCodec`: pass it to
    ``Client.connect(..., data_converter=...)`` for the client a worker uses."""
    return dataclasses.replace(
        DataConverter.default, payload_codec=ClaimCheckCodec(store, threshold_bytes)
    )


def uses_claim_check(converter: DataConverter) -> bool:
    return isinstance(converter.payload_codec, ClaimCheckCodec)


__all__ = [
    "DEFAULT_BLOB_THRESHOLD_BYTES",
    "BlobStore",
    "BlobSweep",
    "ClaimCheckCodec",
    "FileBlobStore",
    "StoredBlob",
    "claim_check_converter",
    "referenced_blobs",
    "sweep_blobs",
    "uses_claim_check",
]
