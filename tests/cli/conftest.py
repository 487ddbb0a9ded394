"""CLI fixtures: a fresh SQLite file per test (the default substrate), shared with the test's host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from effecthost import DurableEffectHost, open_host


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
async def host(db_url: str) -> AsyncIterator[DurableEffectHost]:
    async with await open_host(db_url) as opened:
        yield opened
