"""Fixtures for the SQLite tests: a fresh database file per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "effects.db")


@pytest.fixture
def db_url(db_path: str) -> str:
    return f"sqlite:///{db_path}"  # absolute path → sqlite:////abs/effects.db
