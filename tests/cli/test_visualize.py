"""Flow pictures: ``Flow.visualize`` and ``orchestrator visualize`` write SVGs of the DAG."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import flow_dir_fixture, run_cli_fixture  # noqa: F401 - fixtures

from orchestrator import Flow, Parameter, task
from orchestrator.visualize import VisualizationError, flow_graph

graphviz = pytest.importorskip(
    "graphviz", reason="the 'viz' extra (pip install graphviz) is not installed"
)
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's 'dot' program is "
    "not installed (apt-get install graphviz); .ci/run installs it",
)
SVG = "{http://www.w3.org/2000/svg}"


@task
def make_numbers(count: int) -> list[int]:
    return list(range(count))


@task
def invert(x: int) -> float:
    return 1 / x


@task
def total(values: list[float]) -> float:
    return sum(values)


def inverses_flow() -> Flow:
    with Flow("inverses") as flow:
        values = invert.map(make_numbers(Parameter("count", default=3)))
        total(values)
    return flow


def svg_nodes(path: Path) -> dict[str, dict[str, str]]:
    """``{node name: {"text": label lines, "fill": colour}}`` from a Graphviz SVG."""
    nodes = {}
    for group in ElementTree.parse(path).iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        shapes = (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse")
        shape = next(e for e in group.iter() if e.tag in shapes)
        nodes[group.findtext(f"{SVG}title")] = {
            "text": " / ".join(t.text or "" for t in group.iter(f"{SVG}text")),
            "fill": shape.get("fill", ""),
        }
    return nodes


def svg_edges(path: Path) -> dict[str, str]:
    """``{"upstream->downstream": label}`` from a Graphviz SVG."""
    return {
        group.findtext(f"{SVG}title").replace("&#45;", "-"): " ".join(
            t.text or "" for t in group.iter(f"{SVG}text")
        )
        for group in ElementTree.parse(path).iter(f"{SVG}g")
        if group.get("class") == "edge"
    }


@needs_dot
def test_visualize_writes_an_svg_with_one_node_per_task(tmp_path: Path) -> None:
    path = tmp_path / "inverses.svg"
    inverses_flow().visualize(filename=str(path))
    nodes = svg_nodes(path)
    assert {name: node["text"] for name, node in nodes.items()} == {
        "count": "count",
        "make_numbers": "make_numbers",
        "invert": "invert / (mapped)",
        "total": "total",
    }
    assert svg_edges(path) == {
        "count->make_numbers": "count",
        "make_numbers->invert": "x (mapped)",
        "invert->total": "values",
    }


@needs_dot
def test_visualize_colours_tasks_by_their_final_state(tmp_path: Path) -> None:
    flow = inverses_flow()
    state = flow.run()
    path = tmp_path / "states.svg"
    flow.visualize(flow_state=state, filename=str(path))
    nodes = svg_nodes(path)
    assert nodes["invert"] == {
        "text": "invert / (mapped) / Mapped: Success 2, Failed 1",
        "fill": "#4caf50",
    }
    assert nodes["total"] == {"text": "total / TriggerFailed", "fill": "#f44336"}


def test_visualize_without_a_file_returns_the_graph_source() -> None:
    graph = inverses_flow().visualize()
    assert 'make_numbers -> invert [label="x (mapped)" style=dashed]' in graph.source


def test_dot_files_need_no_dot_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no 'dot' here
    path = tmp_path / "flow.dot"
    inverses_flow().visualize(filename=str(path))
    assert path.read_text().startswith("digraph inverses {")


def test_a_missing_dot_program_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        VisualizationError,
        match=r"Rendering 'flow.svg' needs the Graphviz 'dot' "
        r"program.*apt-get install graphviz",
    ):
        inverses_flow().visualize(filename=str(tmp_path / "flow.svg"))


def test_a_missing_graphviz_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    with pytest.raises(VisualizationError, match=r"pip install 'orchestrator\[viz\]'"):
        flow_graph(inverses_flow())


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VisualizationError, match=r"unknown file type 'txt'. Use one of: \.svg"):
        inverses_flow().visualize(filename=str(tmp_path / "flow.txt"))


@needs_dot
def test_visualize_command_writes_the_svg(
    flow_dir: Path, tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    path = tmp_path / "numbers.svg"
    done = run_cli("visualize", str(flow_dir / "squares.py"), "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Wrote {path} (5 tasks, 4 edges)\n"
    assert set(svg_nodes(path)) == {"count", "label", "make_numbers", "square", "total"}
