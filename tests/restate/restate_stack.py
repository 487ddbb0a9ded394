"""The running Restate test stack (shared by tests/restate's modules; a module name of its own,
since several test folders are on the import path with a ``conftest`` each)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from effecthost.engines.restate import Endpoint, RestateConfig, RestateServer


@dataclass
class Stack:
    server: RestateServer
    endpoint: Endpoint
    config: RestateConfig
    marks: Path
    kills: Path

    def restart_endpoint(self) -> None:
        """A fresh endpoint process on the same port (after it was killed)."""
        self.endpoint.stop()
        self.endpoint.start()

    def marked(self) -> list[str]:
        return self.marks.read_text().splitlines() if self.marks.exists() else []
