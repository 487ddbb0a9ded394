"""The house rules, checked on the import graph (docs/architecture.md).

Every import counts, including the ones inside functions and under ``TYPE_CHECKING``: a loop
hidden that way is still a loop in the design.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PRIVATE = "effecthost._private"
#: Layers inside ``_private``, bottom first. A module imports its own package and lower layers only;
#: the two middle packages are siblings and do not import each other.
LAYERS = {"core": 0, "journal": 1, "awaits": 1, "lifecycle": 1, "stores": 2, "runtime": 3, "turns": 4, "agents": 5}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in (SRC / "effecthost").rglob("*.py")}


def imports_of(name: str, path: Path) -> set[str]:
    """Every module (or package) ``name`` imports, resolved to absolute names."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # "from pkg import module" imports the module
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
    return found


def layer_of(name: str) -> str | None:
    if not name.startswith(PRIVATE + "."):
        return None
    return name.split(".")[2]


def test_every_private_module_sits_in_a_layer_folder() -> None:
    loose = [n for n in modules() if n.startswith(PRIVATE + ".") and layer_of(n) not in LAYERS]
    assert loose == [], f"modules outside the layer folders {sorted(LAYERS)}: {loose}"


def test_imports_inside_private_point_down_only() -> None:
    upward = []
    for name, path in modules().items():
        here = layer_of(name)
        if here not in LAYERS:
            continue
        for target in imports_of(name, path):
            there = layer_of(target)
            if there is None or there == here or there not in LAYERS:
                continue
            if LAYERS[there] >= LAYERS[here]:
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_the_core_needs_only_the_standard_library() -> None:
    foreign = []
    for name, path in modules().items():
        if layer_of(name) != "core":
            continue
        for target in imports_of(name, path):
            top = target.split(".")[0]
            third_party = top not in ("effecthost", "__future__") and top not in sys.stdlib_module_names
            above = top == "effecthost" and layer_of(target) != "core"
            if third_party or above:
                foreign.append(f"{name} -> {target}")
    assert foreign == []


def test_there_is_no_import_loop() -> None:
    known = modules()
    graph = {
        name: {t for t in imports_of(name, path) if t in known and t != name}
        for name, path in known.items()
        if name.startswith(PRIVATE)
    }
    # A package's __init__ importing its own modules is not a loop in the design.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    loops: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                loops.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert loops == []


@pytest.mark.parametrize("store", ["memory", "sqlite", "postgres"])
def test_stores_never_import_the_runtime(store: str) -> None:
    offenders = [
        f"{name} -> {target}"
        for name, path in modules().items()
        if name.startswith(f"{PRIVATE}.stores.{store}")
        for target in imports_of(name, path)
        if layer_of(target) == "runtime"
    ]
    assert offenders == []


def test_integrations_import_only_public_roots() -> None:
    """An integration (effecthost.integrations.*) is built on the public API, as a user's code is:
    never on ``effecthost._private``."""
    offenders = [
        f"{name} -> {target}"
        for name, path in modules().items()
        if name.startswith("effecthost.integrations")
        for target in imports_of(name, path)
        if target.startswith(PRIVATE)
    ]
    assert offenders == []


def test_engines_import_public_roots_only() -> None:
    """An engine (``effecthost.engines.*``) is written the way a third party would write one: on
    ``effecthost``, ``effecthost.engine`` and the other public roots, never ``_private``."""
    engines = {name: path for name, path in modules().items() if name.startswith("effecthost.engines")}
    assert "effecthost.engines.restate.controller" in engines  # the rule checks something
    assert "effecthost.engines.temporal.controller" in engines
    private = [
        f"{name} -> {target}"
        for name, path in engines.items()
        for target in imports_of(name, path)
        if target == PRIVATE or target.startswith(PRIVATE + ".")
    ]
    assert private == []


def test_the_turn_api_never_imports_an_engine() -> None:
    offenders = [
        f"{name} -> {target}"
        for name, path in modules().items()
        if name.startswith(PRIVATE)
        for target in imports_of(name, path)
        if target.startswith("effecthost.engines")
    ]
    assert offenders == []
