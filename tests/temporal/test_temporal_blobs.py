"""Large values by reference (``TemporalConfig(blob_store=...)``): the claim-check codec on its
own, then against the real dev server: a megabyte step value under a 16 KiB history budget, the
worker SIGKILLed while the value lives only in the blob store and the history's reference, and a
fresh worker replaying it without running the step again."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path

import pytest
from temporal_stack import Stack
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from effecthost import EffectHostError, Resolution
from effecthost.engines.temporal import (
    ClaimCheckCodec,
    FileBlobStore,
    TemporalConfig,
    TemporalEffectHost,
    WorkerProcess,
    temporal_worker,
)

HERE = Path(__file__).resolve().parent
SIZE = 1_000_000


async def test_the_codec_keeps_big_payloads_by_reference_and_checks_their_hash(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    codec = ClaimCheckCodec(store, threshold_bytes=1024)
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'"hi"')
    big = Payload(metadata={"encoding": b"json/plain"}, data=b'"' + b"x" * 5000 + b'"')
    encoded = await codec.encode([small, big])
    assert encoded[0] == small  # under the threshold: untouched
    assert encoded[1].ByteSize() < 200 and encoded[1].metadata["encoding"] == b"effecthost/blob-ref"
    digest = encoded[1].metadata["sha256"].decode()
    assert digest == hashlib.sha256(big.SerializeToString()).hexdigest()
    assert await codec.decode(encoded) == [small, big]
    assert await codec.encode([big]) == [encoded[1]]  # content-addressed: stored once, same reference
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [digest]
    # a changed blob, or none, is refused with a code (never silently another value)
    blob = tmp_path / "blobs" / digest[:2] / digest
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(EffectHostError) as changed:
        await codec.decode(encoded)
    assert changed.value.code == "temporal_blob_missing" and "does not match" in changed.value.message
    blob.unlink()
    with pytest.raises(EffectHostError) as missing:
        await codec.decode(encoded)
    assert missing.value.code == "temporal_blob_missing" and "missing" in missing.value.message
    forged = Payload(metadata={"encoding": b"effecthost/blob-ref", "sha256": b"../../etc/passwd"})
    with pytest.raises(EffectHostError) as bad:
        await codec.decode([forged])
    assert bad.value.code == "temporal_blob_missing"


async def test_a_worker_with_a_blob_store_needs_the_claim_check_client(temporal_stack: Stack, tmp_path: Path) -> None:
    config = TemporalConfig(temporal_stack.config.secret, blob_store=FileBlobStore(tmp_path))
    plain = await Client.connect(temporal_stack.server.address)
    with pytest.raises(EffectHostError) as caught:
        temporal_worker(plain, [], config)
    assert caught.value.code == "host_option_invalid" and "data_converter" in caught.value.message
    claim_checked = await Client.connect(temporal_stack.server.address, data_converter=config.data_converter())
    assert temporal_worker(claim_checked, [], config) is not None


async def test_a_megabyte_value_survives_a_killed_worker_by_reference(
    temporal_stack: Stack, tmp_path: Path
) -> None:
    blobs, marks = tmp_path / "blobs", tmp_path / "marks"
    queue = f"blobs-{uuid.uuid4().hex[:8]}"
    secret = temporal_stack.config.secret

    def worker(n: int) -> WorkerProcess:
        return WorkerProcess(
            "blob_turns:TURNS",
            temporal_stack.server.address,
            task_queue=queue,
            args=["--sticky-timeout", "1"],
            cwd=HERE,
            env={
                "EFFECTHOST_TEMPORAL_SECRET": secret.hex(),
                "EFFECTHOST_TEMPORAL_BLOBS": str(blobs),
                "EFFECTHOST_TEST_MARKS": str(marks),
                "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            },
            log_path=tmp_path / f"worker-{n}.log",
        ).start()

    config = TemporalConfig(
        secret,
        task_queue=queue,
        history_budget_bytes=16 * 1024,
        max_payload_bytes=4 * 1024 * 1024,
        blob_store=FileBlobStore(blobs),
    )
    first = worker(1)
    second: WorkerProcess | None = None
    host = await TemporalEffectHost.connect(temporal_stack.server.address, config)
    try:
        handle = await host.start_turn("big_then_wait", session_id="s-blob", turn_id="t", input={"tag": queue, "size": SIZE})
        for _ in range(300):  # parked on its wait, in history (the memo): the megabyte is recorded
            info = await host.get_turn("s-blob", "t")
            if info is not None and str(info.status) == "waiting":
                break
            await asyncio.sleep(0.1)
        [key] = await host.list_outstanding_await_event_keys("s-blob")
        first.process.kill()  # type: ignore[union-attr]  # SIGKILL: the value is only in the store now
        first.process.wait()  # type: ignore[union-attr]
        second = worker(2)
        assert await host.resolve_await_event(key, Resolution.ok("go")) is not None
        result = await handle.result(timeout=60)
        expected = "".join(chr(ord("a") + i % 26) for i in range(SIZE))
        assert result == {
            "length": SIZE,
            "sha256": hashlib.sha256(expected.encode()).hexdigest(),
            "answer": "go",
        }
        assert marks.read_text().splitlines() == [f"make {queue}"]  # replayed from the reference, not re-run
        history = await host.client.get_workflow_handle("effecthost-turn/6:s-blob/t").fetch_history()
        assert len(history.to_json()) < 64 * 1024  # a megabyte recorded, kilobytes in the history
        assert any(p.is_file() for p in blobs.rglob("*"))
        [step, *_] = await host.list_turn_effects("s-blob", "t")  # the timeline reads through the store
        assert step.effect_id == "make#1" and len(step.outcome_json or "") > SIZE
        # a host without the store cannot read the recorded megabyte, and says why
        stranger = await TemporalEffectHost.connect(
            temporal_stack.server.address,
            TemporalConfig(secret, task_queue=queue, blob_store=FileBlobStore(tmp_path / "empty")),
        )
        try:
            with pytest.raises(EffectHostError) as caught:
                await stranger.list_turn_effects("s-blob", "t")
            assert caught.value.code == "temporal_blob_missing"
        finally:
            await stranger.aclose()
    finally:
        await host.aclose()
        first.stop()
        if second is not None:
            second.stop()
