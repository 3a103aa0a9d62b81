"""Pictures of flows: the DAG drawn with Graphviz, coloured by state after a run.

One node per task (named by the task, ``#2`` added when two tasks share a name),
one arrow per edge labelled with the argument it feeds. Mapped tasks are drawn
as stacked boxes and the edges they map over are dashed; parameters are drawn
as parallelograms. Given a flow state, each node is filled with its task's state
colour and says the state (a mapped task also counts its children's states).

Needs the optional Python ``graphviz`` package (``pip install 'orchestrator[viz]'``)
and, to render a file, the Graphviz ``dot`` program.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.dag.parameter import Parameter
from orchestrator.errors import OrchestratorError
from orchestrator.progress.tally import label_tasks, tally

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from taskrun.states import State

#: file endings ``visualize`` writes; ``.dot``/``.gv`` write the Graphviz source itself
FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "dot", "gv")
_INSTALL_PACKAGE = (
    "Drawing flows needs the Python 'graphviz' package. Install it with: "
    "pip install 'orchestrator[viz]'  (or: pip install graphviz)"
)
_INSTALL_DOT = (
    "Rendering {what} needs the Graphviz 'dot' program, which was not found on PATH. "
    "Install Graphviz: apt-get install graphviz (Debian/Ubuntu), brew install graphviz "
    "(macOS), conda install graphviz, or see https://graphviz.org/download/. "
    "To write the graph's source without 'dot', use a .dot file name."
)


class VisualizationError(OrchestratorError):
    """A flow cannot be drawn: a missing package or program, or an unknown file type."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


def visualize(
    flow: Flow, flow_state: State | None = None, filename: str | Path | None = None
) -> Any:
    """Draw ``flow`` (coloured by ``flow_state``); write ``filename`` when given.

    The file type comes from the file name's ending (``.svg``, ``.png``, ``.pdf``,
    ``.dot``...; none means ``.svg``). Returns the ``graphviz.Digraph``, which
    notebooks show inline.

    Raises:
        VisualizationError: graphviz or ``dot`` is missing, or the file type is unknown.
    """
    graph = flow_graph(flow, flow_state)
    if filename is not None:
        write(graph, Path(filename))
    return graph


def flow_graph(flow: Flow, flow_state: State | None = None) -> Any:
    """The ``graphviz.Digraph`` of ``flow``; nothing is rendered yet."""
    graphviz = _import_graphviz()
    states = _task_states(flow, flow_state)
    tasks = flow.sorted_tasks()
    names = dict(zip(tasks, label_tasks([t.name for t in tasks]), strict=True))
    graph = graphviz.Digraph(
        name=flow.name,
        graph_attr={
            "label": _graph_label(flow, flow_state),
            "labelloc": "t",
            "fontname": "Helvetica",
        },
        node_attr={"fontname": "Helvetica", "style": "filled", "fillcolor": "white"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    for task in tasks:
        mapped = any(e.mapped for e in flow.edges_to(task))
        graph.node(names[task], **_node_attributes(task, names[task], mapped, states.get(task)))
    for task in tasks:
        for edge in flow.edges_to(task):
            graph.edge(names[edge.upstream_task], names[task], **_edge_attributes(edge))
    return graph


def write(graph: Any, path: Path) -> Path:
    """Write ``graph`` to ``path`` in the format its ending names; returns the path."""
    suffix = path.suffix.lower().lstrip(".") or "svg"
    if suffix not in FORMATS:
        raise VisualizationError(
            f"Cannot write a flow picture as {path.name!r}: unknown file type "
            f"{suffix!r}. Use one of: {', '.join('.' + f for f in FORMATS)}."
        )
    target = path if path.suffix else path.with_suffix(".svg")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix in ("dot", "gv"):
        target.write_text(graph.source)
        return target
    graphviz = _import_graphviz()
    try:
        target.write_bytes(graph.pipe(format=suffix))
    except graphviz.ExecutableNotFound as err:
        raise VisualizationError(_INSTALL_DOT.format(what=repr(target.name))) from err
    return target


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError as err:
        raise VisualizationError(_INSTALL_PACKAGE) from err
    return graphviz


def _task_states(flow: Flow, flow_state: State | None) -> Mapping[Any, State]:
    if flow_state is None:
        return {}
    states = flow_state.result(raise_on_failure=False)
    if not isinstance(states, Mapping):
        raise VisualizationError(
            f"Flow {flow.name!r}: flow_state must be the state returned "
            "by flow.run() (its result maps tasks to states), got "
            f"{flow_state!r}."
        )
    return states


def _graph_label(flow: Flow, flow_state: State | None) -> str:
    return flow.name if flow_state is None else f"{flow.name}: {flow_state.name}"


def _node_attributes(task: Any, name: str, mapped: bool, state: State | None) -> dict[str, str]:
    shape = "parallelogram" if isinstance(task, Parameter) else ("box3d" if mapped else "box")
    attributes = {"shape": shape, "style": "rounded,filled" if shape == "box" else "filled"}
    label = name + ("\n(mapped)" if mapped else "")
    if state is not None:
        label += "\n" + _state_text(state)
        attributes.update(
            fillcolor=state.color, fontcolor="white", tooltip=f"{state.name}: {state.message or ''}"
        )
    attributes["label"] = label
    return attributes


def _state_text(state: State) -> str:
    if state.is_mapped() and state.map_states:
        return f"{state.name}: {tally('', True, state.map_states).counts_text()}"
    return state.name


def _edge_attributes(edge: Any) -> dict[str, str]:
    attributes: dict[str, str] = {}
    marks = [m for m, on in (("mapped", edge.mapped), ("flattened", edge.flattened)) if on]
    if edge.key is not None or marks:
        attributes["label"] = " ".join([edge.key or "", *(f"({m})" for m in marks)]).strip()
    if edge.mapped:
        attributes["style"] = "dashed"
    return attributes
