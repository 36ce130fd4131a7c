"""The layers keep their rooms: no import cycle between modules, no import against the layer rules.

Every import counts, including those inside functions and under `TYPE_CHECKING`: a cycle hidden
there still ties the modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "src" / "manifestdb"

# layer -> the layers it must not import (each a package or a module under manifestdb)
# (`harness` starts servers as subprocesses and speaks HTTP to them: no layer below imports it,
# and it imports none of them.)
FORBIDDEN: dict[str, frozenset[str]] = {
    "manifest": frozenset(
        {"store", "service", "jobs", "wire", "console", "commands", "cli", "harness"}
    ),
    "store": frozenset(
        {"manifest", "service", "jobs", "wire", "console", "commands", "cli", "harness"}
    ),
    "service": frozenset({"wire", "console", "commands", "cli", "harness"}),
    "jobs": frozenset({"service", "wire", "console", "commands", "cli", "harness"}),
    "wire": frozenset({"commands", "cli", "harness"}),
    "harness": frozenset({"manifest", "store", "service", "jobs", "wire", "console", "commands"}),
    # Models take images and labels, and give predictions: the jobs and the service feed them.
    "models": frozenset(
        {"manifest", "store", "service", "jobs", "wire", "console", "commands", "cli", "harness"}
    ),
    # The console is one more client of the service: through it, never around it.
    "console": frozenset({"store", "jobs", "manifest", "commands", "cli", "harness"}),
}


def module_name(path: Path) -> str:
    parts = ["manifestdb", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str) -> Iterator[str]:
    """The manifestdb modules that module `name` imports, wherever the import statement is."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from package import submodule` imports the submodule; a name imports `base`.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: sorted(set(imported_modules(name))) for name in MODULES}


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def layer_of(name: str) -> str:
    return name.split(".")[1] if name.count(".") >= 1 else ""


def test_the_graph_sees_every_module() -> None:
    assert "manifestdb.wire.app" in GRAPH and "manifestdb.store" in GRAPH
    assert "manifestdb.store" in GRAPH["manifestdb.jobs.apply"]


def test_no_import_cycle_between_modules() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles (move the shared piece down): " + "; ".join(
        " <-> ".join(component) for component in found
    )


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    breaches = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if layer_of(name) == layer
        for target in targets
        if layer_of(target) in FORBIDDEN[layer]
    ]
    assert not breaches, f"{layer}/ must not import {sorted(FORBIDDEN[layer])}: {breaches}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert cycles(graph) == [["a", "b", "c"]]
