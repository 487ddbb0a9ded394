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
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

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
            return  # content-addressed: the same bytes are there already
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

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.directory)!r})"


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
    "ClaimCheckCodec",
    "FileBlobStore",
    "claim_check_converter",
    "uses_claim_check",
]
