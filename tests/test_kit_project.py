"""The kit as a third party meets it: a fresh project outside this repository, with only
``[pytest]`` in its pytest.ini (pytest-asyncio's default strict mode), loading the opt-in plugin
from its conftest and subclassing the suites, run by ``python -m pytest`` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

CONFTEST = '''
    """This project's hosts: open_host on the URL each test class names, with our interceptors."""
    from typing import Any

    import pytest_asyncio

    from effecthost import open_host
    from effecthost.interceptors import EffectCounter
    from effecthost.testing.conformance import HostPool

    pytest_plugins = ["effecthost.testing.pytest_plugin"]


    @pytest_asyncio.fixture
    async def effecthost_host_factory(effecthost_url: str):
        async def make(**options: Any):
            # an interceptor instance belongs to one host's chain: a new one per host
            return await open_host(effecthost_url, interceptors=[EffectCounter()], **options)

        async with HostPool(make) as pool:  # closes every host a test opened
            yield pool
'''

TEST_MINE = '''
    import uuid

    import pytest

    from effecthost import InlineEffectHost
    from effecthost.testing.conformance import Capabilities, conformance_suite
    from effecthost.testing.suites import DurableHostSuite


    class TestMemory(DurableHostSuite):
        @pytest.fixture
        def effecthost_url(self) -> str:
            return f"memory://mine-{uuid.uuid4().hex}"


    class TestSqlite(DurableHostSuite):
        @pytest.fixture
        def effecthost_url(self, tmp_path) -> str:
            return f"sqlite:///{tmp_path / 'mine.db'}"


    TestInline = conformance_suite(InlineEffectHost, Capabilities())
'''

TEST_BROKEN = '''
    import pytest_asyncio

    from effecthost import ExecutionScope, InlineEffectHost, ScopedController
    from effecthost.testing.conformance import HostPool
    from effecthost.testing.suites import AwaitEventsSuite, HostSuite


    class Forgetful(InlineEffectHost):
        """Forgets to validate scopes: an empty session id goes through."""

        def scoped(self, scope):
            valid = super().scoped(ExecutionScope.turn("forgetful", "turn"))
            return ScopedController(valid.controller, scope)


    class TestForgetful(HostSuite, AwaitEventsSuite):
        @pytest_asyncio.fixture
        async def effecthost_host_factory(self):
            async with HostPool(Forgetful) as pool:
                yield pool
'''


def _project(root: Path) -> Path:
    files = {"pytest.ini": "[pytest]\n", "conftest.py": CONFTEST, "test_mine.py": TEST_MINE}
    files["test_broken.py"] = TEST_BROKEN
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(SRC)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _counts(output: str) -> dict[str, int]:
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error|errors)", summary)}


def test_a_fresh_project_runs_the_suites_in_strict_mode(tmp_path: Path) -> None:
    """Two hosts through every suite (16 vectors each) plus conformance_suite's 4 tests."""
    result = _pytest(_project(tmp_path), "test_mine.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _counts(result.stdout) == {"passed": 36}, result.stdout
    assert "asyncio_mode" not in (tmp_path / "pytest.ini").read_text()


def test_a_broken_host_fails_exactly_the_vector_it_breaks(tmp_path: Path) -> None:
    result = _pytest(_project(tmp_path), "test_broken.py", "-rf")
    assert result.returncode == 1, result.stdout + result.stderr
    assert _counts(result.stdout) == {"passed": 3, "failed": 1}, result.stdout
    assert "FAILED test_broken.py::TestForgetful::test_effect_host" in result.stdout
    assert "invalid execution scope must be rejected" in result.stdout
