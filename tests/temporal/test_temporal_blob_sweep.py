"""Sweeping the blob store (``sweep_blobs``, ``effecthost blobs sweep``): a blob no history refers
to any more goes once it is older than the grace period; a referenced one, or a young one, stays.
A dev server of its own, so the sweep reads only this test's histories; then a fresh server, a
namespace whose histories are all gone (as retention drops them: the dev server's own delete of a
closed workflow was not seen to happen within 20 s)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import blob_turns
import pytest
from temporalio.client import Client

from effecthost import EffectHostError, Resolution
from effecthost.engines.temporal import (
    FileBlobStore,
    TemporalConfig,
    TemporalEffectHost,
    TemporalServer,
    sweep_blobs,
    temporal_worker,
)

TWO_DAYS_S = 2 * 86400


def _age(store: FileBlobStore, digest: str, seconds: float) -> None:
    path = store.directory / digest[:2] / digest
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_a_sweep_deletes_only_old_blobs_no_history_refers_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_turns, "MARKS", tmp_path / "marks")  # the step runs in this process
    store = FileBlobStore(tmp_path / "blobs")
    server = TemporalServer(tmp_path / "temporal.db", log_path=tmp_path / "server.log").start()
    try:
        config = TemporalConfig(
            bytes.fromhex(TemporalConfig.new_secret()),
            task_queue=f"sweep-{uuid.uuid4().hex[:6]}",
            max_payload_bytes=4 * 1024 * 1024,
            blob_store=store,
        )
        client = await Client.connect(server.address, data_converter=config.data_converter())
        host = TemporalEffectHost(client, config)
        async with temporal_worker(client, blob_turns.TURNS, config, passthrough=["blob_turns"]):
            handle = await host.start_turn(
                "big_then_wait", session_id="s-sweep", turn_id="t", input={"tag": "sweep", "size": 200_000}
            )
            [key] = await _outstanding(host, "s-sweep")
            await host.resolve_await_event(key, Resolution.ok("go"))
            result = await handle.result(timeout=60)
            assert result["length"] == 200_000
        [kept] = await store.stored()  # the step's value
        referenced, referenced_size = kept.digest, kept.size_bytes
        orphan_data = b"a value a worker stored, then died before its history said so" * 2000
        orphan = hashlib.sha256(orphan_data).hexdigest()
        young_data = b"being recorded right now" * 4000
        young = hashlib.sha256(young_data).hexdigest()
        await store.put(orphan, orphan_data)
        await store.put(young, young_data)
        for digest in (referenced, orphan):
            _age(store, digest, TWO_DAYS_S)

        dry = await sweep_blobs(client, store, grace_s=86400, dry_run=True)
        assert (dry.stored, dry.referenced, dry.recent, dry.deleted) == (3, 1, 1, 1) and dry.dry_run
        assert dry.freed_bytes == len(orphan_data) and dry.histories >= 2  # the turn's, its session's
        assert len(await store.stored()) == 3  # a dry run deletes nothing

        swept = await sweep_blobs(client, store, grace_s=86400)
        assert (swept.deleted, swept.recent, swept.referenced) == (1, 1, 1)
        assert sorted(blob.digest for blob in await store.stored()) == sorted([referenced, young])
        [step, *_] = await host.list_turn_effects("s-sweep", "t")  # still readable through the store
        assert len(step.outcome_json or "") > 200_000
    finally:
        server.stop()
    # a namespace that keeps no history any more (retention dropped them all; here, a fresh
    # server): through the command line, every blob goes once past the grace period (0 here)
    fresh = TemporalServer(tmp_path / "fresh.db", log_path=tmp_path / "fresh.log").start()
    try:
        url = f"temporal://{fresh.address}"
        env = {**os.environ, "EFFECTHOST_TEMPORAL_BLOBS": str(store.directory)}  # no secret needed
        done = await asyncio.to_thread(_cli, env, "blobs", "sweep", "--url", url, "--grace", "0", "--json")
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert (answer["stored"], answer["referenced"], answer["deleted"]) == (2, 0, 2)
        assert answer["freed_bytes"] == len(young_data) + referenced_size
        assert await store.stored() == []
        refused = await asyncio.to_thread(_cli, env, "blobs", "sweep", "--url", url, "--grace", "-1")
        assert refused.returncode == 1 and "invalid_argument" in refused.stderr, refused.stderr
        missing = await asyncio.to_thread(
            _cli, {**env, "EFFECTHOST_TEMPORAL_BLOBS": ""}, "blobs", "sweep", "--url", url
        )
        assert missing.returncode == 1 and "EFFECTHOST_TEMPORAL_BLOBS" in missing.stderr, missing.stderr
    finally:
        fresh.stop()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "effecthost", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def _outstanding(host: TemporalEffectHost, session_id: str) -> list[object]:
    for _ in range(300):
        keys = await host.list_outstanding_await_event_keys(session_id)
        if keys:
            return list(keys)
        await asyncio.sleep(0.05)
    raise AssertionError("the wait never registered")


async def test_a_negative_grace_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(EffectHostError) as caught:
        await sweep_blobs(None, FileBlobStore(tmp_path), grace_s=-1)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_argument"


async def test_a_blob_written_again_since_the_listing_is_not_deleted(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    data = b"x" * 100
    digest = hashlib.sha256(data).hexdigest()
    await store.put(digest, data)
    _age(store, digest, TWO_DAYS_S)
    cutoff = time.time() - 86400
    [listed] = await store.stored()
    assert listed.written_at < cutoff  # the sweep would pick it
    await store.put(digest, data)  # written again (a worker recording the same value): touched
    assert await store.delete(digest, written_before=cutoff) is False
    assert [blob.digest for blob in await store.stored()] == [digest]
    _age(store, digest, TWO_DAYS_S)
    assert await store.delete(digest, written_before=cutoff) is True
    assert await store.stored() == []
    assert await store.delete(digest, written_before=cutoff) is False  # gone already
