"""The turn the blob-store tests' worker runs (``python -m effecthost.engines.temporal.serve
blob_turns:TURNS`` with ``$EFFECTHOST_TEMPORAL_BLOBS`` set): a step whose value is far over the
history budget, then a wait, so the worker can be killed while the value is only in history."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from effecthost import Turn, durable_turn

#: A 16 KiB history budget and a 4 MiB payload budget: a megabyte fits only by reference.
CONFIG_OPTIONS = {"history_budget_bytes": 16 * 1024, "max_payload_bytes": 4 * 1024 * 1024}
MARKS = Path(os.environ.get("EFFECTHOST_TEST_MARKS", "/tmp/effecthost-temporal-blob-marks"))


def make_big(tag: str, size: int) -> str:
    with MARKS.open("a") as f:
        f.write(f"make {tag}\n")
    return "".join(chr(ord("a") + i % 26) for i in range(size))


@durable_turn
async def big_then_wait(turn: Turn, tag: str, size: int) -> dict[str, Any]:
    text: str = await turn.step("make", make_big, tag, size)
    answer = await turn.wait("go")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return {"length": len(text), "sha256": digest, "answer": answer.value}


TURNS = [big_then_wait]
