"""Fixtures for the HTTP service: a memory:// substrate shared by the app and the test's host."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from server_support import make_app, serve_in_process
from starlette.applications import Starlette

from effecthost import DurableEffectHost, open_host


@pytest.fixture
def host_url() -> str:
    return f"memory://server-test-{uuid.uuid4().hex}"


@pytest.fixture
async def host(host_url: str) -> AsyncIterator[DurableEffectHost]:
    async with await open_host(host_url) as opened:
        yield opened


@pytest.fixture
def app(host_url: str, host: DurableEffectHost) -> Starlette:
    return make_app(host_url)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as c:
        yield c
