"""The faces (command line, HTTP service, demo) and the shared JSON views build on public roots only.

``effecthost._private`` may change shape in any release; a face importing it would break with
it, and would use something a program built on effecthost cannot. The imports are read with
``ast`` (every import, including those inside functions and ``TYPE_CHECKING`` blocks), so a new
one is caught before anything runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "effecthost"
FACES = sorted(
    [
        *(PACKAGE / "cli").rglob("*.py"),
        *(PACKAGE / "server").rglob("*.py"),
        # contrib (integrations with other projects' tools) builds on public roots too
        *(PACKAGE / "contrib").rglob("*.py"),
        PACKAGE / "demo.py",
        PACKAGE / "__main__.py",
        # shared by the CLI and the server, so held to the same rule
        PACKAGE / "views.py",
        PACKAGE / "operations.py",
    ]
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(text: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module (or ``package.name``) an import statement of ``module`` names, made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from .. import _private` names the module in the alias, not in `module`
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    return imported_modules(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def test_the_faces_are_found() -> None:
    # a moved folder must not leave the rule checking nothing
    names = {module_name(path) for path in FACES}
    assert {"effecthost.cli", "effecthost.cli.common", "effecthost.server.app", "effecthost.demo"} <= names
    assert "effecthost.contrib.otel._interceptor" in names


@pytest.mark.parametrize(
    ("text", "module", "is_package"),
    [
        ("from .._private.core import errors", "effecthost.cli.common", False),
        ("from .. import _private", "effecthost.cli.common", False),
        ("from ._private import core", "effecthost", True),
        ("from ..._private.core import errors", "effecthost.cli.sub.deep", False),
        ("import effecthost._private.core", "effecthost.cli.common", False),
        ("if TYPE_CHECKING:\n    from .._private import core", "effecthost.server.app", False),
        ("def f():\n    from .._private import core", "effecthost.server", True),
    ],
)
def test_the_resolver_sees_each_form_of_a_private_import(text: str, module: str, is_package: bool) -> None:
    # the rule is only as good as the resolution of `..`: check it on the forms a face could use
    found = [target for _, target in imported_modules(text, module, is_package)]
    assert any(t == "effecthost._private" or t.startswith("effecthost._private.") for t in found), found


def test_the_resolver_keeps_public_imports_public() -> None:
    found = {t for _, t in imported_modules("from ..views import effect_view", "effecthost.cli.journal")}
    assert found == {"effecthost.views", "effecthost.views.effect_view"}


#: Faces that still import a private module, each until the name it needs is exported. Strict:
#: once the import is public the case passes, the xfail fails, and the entry must go.
PENDING: dict[Path, str] = {}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, marks=pytest.mark.xfail(reason=PENDING[path], strict=True))
        if path in PENDING
        else path
        for path in FACES
    ],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_faces_import_no_private_module(path: Path) -> None:
    private = [
        f"{path.relative_to(SRC)}:{line}: {target}"
        for line, target in imports_of(path)
        if target == "effecthost._private" or target.startswith("effecthost._private.")
    ]
    assert private == [], "import these from a public root (effecthost, effecthost.store, ...)"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_command_line_loads_without_the_server_face() -> None:
    # The CLI is its own face: only `serve` reaches for the server (and Starlette) when it runs.
    loaded = _loaded_after("import effecthost.cli.root")
    assert "effecthost.views" in loaded
    assert not {m for m in loaded if m == "effecthost.server" or m.startswith("effecthost.server.")}
    assert not {m for m in loaded if m.partition(".")[0] in {"starlette", "uvicorn", "h11"}}


def test_the_views_need_no_face() -> None:
    loaded = _loaded_after("import effecthost.views")
    assert not {m for m in loaded if m.partition(".")[0] in {"starlette", "uvicorn", "typer", "rich"}}
