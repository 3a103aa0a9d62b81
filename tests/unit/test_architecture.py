"""Architecture, pinned: no import cycles, ``taskrun`` under ``orchestrator``, Dask in 2 folders.

The layering in ``orchestrator/__init__.py`` and the Dask boundary in STYLE.md hold only while
something checks them. These tests read the source with ``ast`` (every import counts, inside
functions too, except those under ``if TYPE_CHECKING:``) and import the packages in a fresh
interpreter where ``dask`` and ``distributed`` cannot be imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestrator", "taskrun", "workers")
DASK_FOLDERS = ("orchestrator.task_runners.dask", "taskrun.dask")
DASK_DISTRIBUTIONS = ("dask", "distributed")
MAX_MODULE_LINES = 400


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written, and whether it runs only at call time."""

    target: str
    names: tuple[str, ...]
    line: int
    in_function: bool
    type_checking: bool


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Map each dotted module name of ``packages`` under ``root`` to its source file."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    nodes: Iterable[ast.AST], in_function: bool = False, type_checking: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import in ``nodes``, with whether it sits in a function or a TYPE_CHECKING block."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function, type_checking
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.body, in_function, True)
            yield from _walk(node.orelse, in_function, type_checking)
        else:
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            children = ast.iter_child_nodes(node)
            yield from _walk(children, in_function or is_function, type_checking)


def read_imports(module: str, path: Path) -> list[Import]:
    """The imports of one module, relative ones resolved to absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node, in_function, type_checking in _walk(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, (), node.lineno, in_function, type_checking))
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names = tuple(alias.name for alias in node.names)
        found.append(Import(base, names, node.lineno, in_function, type_checking))
    return found


def resolve(imported: Import, modules: Mapping[str, Path]) -> set[str]:
    """The project modules an import names: ``from pkg import name`` is ``pkg.name`` if a module."""
    if not imported.names:
        target = imported.target
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return {target} if target else set()
    resolved: set[str] = set()
    for name in imported.names:
        submodule = f"{imported.target}.{name}"
        if submodule in modules:
            resolved.add(submodule)
        elif imported.target in modules:
            resolved.add(imported.target)
    return resolved


def build_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the project modules it imports at run time (any depth, TYPE_CHECKING excluded)."""
    modules = find_modules(root, packages)
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for imported in read_imports(module, path):
            if not imported.type_checking:
                graph[module] |= resolve(imported, modules) - {module}
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(component, graph) for component in components]


def _cycle_in(component: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    # Shortest path from the component's first module back to itself, inside the component.
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def _in_dask_folder(module: str) -> bool:
    return any(module == folder or module.startswith(f"{folder}.") for folder in DASK_FOLDERS)


def _names_dask(target: str) -> bool:
    return target.split(".")[0] in DASK_DISTRIBUTIONS


# -- import cycles -------------------------------------------------------------------------------


def test_the_project_has_no_import_cycles() -> None:
    cycles = find_cycles(build_graph(ROOT, PACKAGES))
    assert not cycles, "import cycles (break each at the right depth):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_the_cycle_finder_reports_a_cycle_closed_by_a_function_level_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    from . import c\n",
            "pkg/c.py": "from .a import x\n",
            "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
        },
    )
    graph = build_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == set()
    assert graph["pkg.a"] == {"pkg.b"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_the_cycle_finder_ignores_type_checking_and_counts_explicit_package_imports(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "A = 1\n",
            "pkg/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.c import C\n",
            "pkg/c.py": "from pkg.b import B\nfrom pkg import A\n",
        },
    )
    graph = build_graph(tmp_path, ("pkg",))
    # No implicit edge from pkg.a to its parent package; an explicit `from pkg import A` is one.
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": set(), "pkg.b": set(), "pkg.c": {"pkg.b", "pkg"}}
    assert find_cycles(graph) == []


# -- layering ------------------------------------------------------------------------------------


def test_taskrun_never_imports_orchestrator() -> None:
    modules = find_modules(ROOT, PACKAGES)
    offenders = [
        f"{path.relative_to(ROOT)}:{imported.line} imports {imported.target}"
        for module, path in modules.items()
        if module.split(".")[0] == "taskrun"
        for imported in read_imports(module, path)
        if imported.target.split(".")[0] == "orchestrator"
    ]
    assert not offenders, "taskrun sits below orchestrator:\n" + "\n".join(offenders)


# -- the Dask boundary ---------------------------------------------------------------------------

_IMPORT_WITHOUT_DASK = """
import importlib, sys
from importlib.abc import MetaPathFinder

class NoDask(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked: only the Dask folders may import it")
        return None

sys.meta_path.insert(0, NoDask())
failures = []
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except Exception as err:
        failures.append(f"{{module}}: {{type(err).__name__}}: {{err}}")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
print("\\n".join(failures + [f"loaded {{m}}" for m in loaded]))
sys.exit(1 if failures or loaded else 0)
"""


def test_everything_outside_the_dask_folders_imports_without_dask() -> None:
    modules = sorted(
        module
        for module in find_modules(ROOT, PACKAGES)
        if not _in_dask_folder(module) and module.rpartition(".")[2] != "__main__"
    )
    assert "orchestrator.runs.flow_runner" in modules
    script = _IMPORT_WITHOUT_DASK.format(blocked=set(DASK_DISTRIBUTIONS), modules=modules)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_only_the_dask_folders_import_dask() -> None:
    modules = find_modules(ROOT, PACKAGES)
    offenders: list[str] = []
    for module, path in modules.items():
        if _in_dask_folder(module):
            continue
        for imported in read_imports(module, path):
            where = f"{path.relative_to(ROOT)}:{imported.line}"
            if _names_dask(imported.target):
                offenders.append(f"{where} imports {imported.target}")
            # Reaching into a Dask folder is fine lazily (in a function), or from a `__main__`
            # entry point such as `python -m workers`, which exists to start the Dask side.
            lazy = imported.in_function or imported.type_checking or module.endswith("__main__")
            if not lazy and any(map(_in_dask_folder, resolve(imported, modules))):
                offenders.append(f"{where} imports {imported.target} at import time, not lazily")
    assert not offenders, (
        "Dask belongs in " + ", ".join(DASK_FOLDERS) + ":\n" + "\n".join(offenders)
    )


def test_the_boundary_check_sees_function_level_dask_imports(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "def f():\n    from distributed import Client\n"})
    (imported,) = read_imports("pkg", tmp_path / "pkg" / "__init__.py")
    assert imported.in_function
    assert _names_dask(imported.target)


# -- size ----------------------------------------------------------------------------------------


def test_every_module_stays_under_the_size_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in find_modules(ROOT, PACKAGES).values()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split by concept): {too_long}"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_scan_finds_each_package(package: str) -> None:
    assert package in find_modules(ROOT, PACKAGES)
