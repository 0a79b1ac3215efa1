"""The source tree's import graph: arrows between packages, and between the modules of a
package, go one way; and `http` is a leaf.

Read statically from every `import` in src/, those inside functions and `TYPE_CHECKING`
blocks included: a cycle hidden in a function is still a cycle for whoever moves the code.
A package is a directory under hokusai_platform; a top-level module is a package of its own.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import hokusai_platform

SOURCE = Path(hokusai_platform.__file__).parent
TOP = "hokusai_platform"
# Packages that must import nothing else of hokusai_platform.
LEAVES = ("http",)

Graph = Mapping[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """The hokusai_platform modules `path` imports (a `from package import name` counts as
    `package.name`, which may be a module or an attribute of the package)."""
    is_package = path.name == "__init__.py"
    here = module_name(path).split(".")
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith(TOP))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if is_package else 0)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            if origin == TOP or origin.startswith(TOP + "."):
                yield from (f"{origin}.{alias.name}" for alias in node.names)


@functools.cache
def module_graph() -> Graph:
    files = {module_name(path): path for path in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for target in imported(path):
            while target not in files:  # `package.attribute` names the package
                target = target.rpartition(".")[0]
            if target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else TOP


def package_graph(modules: Graph) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, targets in modules.items():
        edges = graph.setdefault(package(source), set())
        edges.update(package(t) for t in targets if package(t) not in (package(source), TOP))
    return graph


def cycle(graph: Graph) -> list[str]:
    """One cycle of `graph` as [a, b, ..., a], or [] when it has none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for target in sorted(graph.get(node, ())):
            if found := visit(target, [*path, node]):
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        if found := visit(start, []):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_packages_import_each_other_one_way() -> None:
    graph = package_graph(module_graph())

    assert "infra" in graph["doctor"]  # the graph is read
    assert cycle(graph) == [], " -> ".join(cycle(graph))


def packages() -> list[str]:
    return sorted({package(module) for module in module_graph()})


@pytest.mark.parametrize("name", packages())
def test_the_modules_of_a_package_import_each_other_one_way(name: str) -> None:
    modules = module_graph()
    inside = {
        source: {target for target in targets if package(target) == name}
        for source, targets in modules.items()
        if package(source) == name
    }

    assert cycle(inside) == [], " -> ".join(cycle(inside))


def test_infra_knows_nothing_of_doctor() -> None:
    assert "doctor" not in package_graph(module_graph())["infra"]


@pytest.mark.parametrize("leaf", LEAVES)
def test_a_leaf_package_imports_nothing_else_of_the_platform(leaf: str) -> None:
    graph = package_graph(module_graph())
    if leaf not in graph:
        pytest.skip(f"no package {leaf} (yet)")

    assert graph[leaf] == set()
