"""examples/dict_store.py, the third-party substrate docs/writing-a-host.md walks through, passes
the whole conformance kit using nothing but the public seams."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import uuid
from pathlib import Path

import pytest

from effecthost.testing.suites import DurableHostSuite

pytest_plugins = ["effecthost.testing.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "dict_store.py"


def _load_example() -> object:
    spec = importlib.util.spec_from_file_location("dict_store_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_load_example().register()  # type: ignore[attr-defined]


class TestDictStore(DurableHostSuite):
    """Every part of the kit: scopes, await events, the journal, browsing, cold instances, leases."""

    @pytest.fixture
    def effecthost_url(self) -> str:
        return f"dict://kit-{uuid.uuid4().hex}"


def test_the_example_imports_only_public_roots() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in modules if m.startswith("effecthost")} == {"effecthost", "effecthost.store"}


def test_the_docs_show_the_examples_code_as_it_is() -> None:
    page = (ROOT / "docs" / "writing-a-host.md").read_text()
    blocks = re.findall(r"```python\n# examples/dict_store\.py\n(.*?)```", page, flags=re.S)
    assert blocks, "docs/writing-a-host.md shows parts of examples/dict_store.py"
    source = EXAMPLE.read_text()
    for block in blocks:
        assert block.strip() in source, block[:200]
