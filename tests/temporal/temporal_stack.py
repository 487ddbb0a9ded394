"""The running Temporal test stack (shared by tests/temporal's modules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from effecthost.engines.temporal import TemporalConfig, TemporalServer, WorkerProcess


@dataclass
class Stack:
    server: TemporalServer
    workers: list[WorkerProcess]
    config: TemporalConfig
    marks: Path
    kills: Path
    make_worker: object

    def marked(self) -> list[str]:
        return self.marks.read_text().splitlines() if self.marks.exists() else []
