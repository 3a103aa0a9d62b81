"""Checks of what a task in a flow receives: no ``Flow`` as a value, every required argument.

- A ``Flow`` passed as a task argument would silently become a constant: refused at the
  call (``Flow._bind_input`` for a DAG, ``Task.__call__`` inside a running ``@flow``).
- A required argument of ``run()`` left unbound fails only when the task runs. It cannot
  be refused at the call: the imperative API binds arguments later
  (``t = add(x=1); t.set_upstream(y, key="y")``). ``Flow.validate()`` (which runs before
  every flow run) refuses it instead, once the DAG is complete.

No import of the flow classes here (they import this module): a ``Flow`` is recognised
through ``sys.modules``, since none can exist before its module is imported.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

from orchestrator.errors import FlowDefinitionError

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task

_P = inspect.Parameter
#: parameter kinds a caller must fill when they have no default
_FILLED = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)


def is_flow(value: Any) -> bool:
    """Whether ``value`` is a DAG ``Flow`` (any ``FlowGraph``)."""
    graph = sys.modules.get("orchestrator.dag.flow_graph")
    return graph is not None and isinstance(value, graph.FlowGraph)


def flow_value_error(flow_name: str, task_name: str, key: str, value: Any) -> FlowDefinitionError:
    """The error for the flow ``value`` passed to task ``task_name`` as argument ``key``."""
    return FlowDefinitionError(
        flow_name,
        f"task {task_name!r} got the Flow {getattr(value, 'name', '?')!r} as argument "
        f"{key!r}; a task cannot take a flow as a value (it would be passed as a constant, "
        "never run).",
        "To use that flow's results, call its tasks here (or run it and pass the values "
        "you need); for a value given per run, use a Parameter. If the task really takes "
        "a Flow object, pass Constant(that_flow).",
    )


def refuse_flow_values(
    flow_name: str, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Refuse a ``Flow`` among the arguments of a task call inside a running ``@flow``."""
    if not any(is_flow(value) for value in (*args, *kwargs.values())):
        return
    for key, value in task.bind_arguments(args, kwargs).items():
        if is_flow(value):
            raise flow_value_error(flow_name, task.name, key, value)


def check_required_arguments(flow: Flow) -> None:
    """Raise ``FlowDefinitionError`` naming each task whose required ``run()`` arguments
    are bound neither by an edge nor by a constant (first ten, then "and N more")."""
    required_by_signature: dict[int, tuple[str, ...]] = {}
    missing: list[tuple[Task, list[str]]] = []
    constants = flow.constants
    for task in flow._order:  # runs before every flow run: a few dict lookups per task
        signature = task.signature
        required = required_by_signature.get(id(signature))
        if required is None:
            required = required_by_signature[id(signature)] = _required(signature)
        if not required:
            continue
        given = constants.get(task)
        unbound = [name for name in required if not given or name not in given]
        if unbound:
            keys = {e.key for e in flow._inputs(task)}
            unbound = [name for name in unbound if name not in keys]
            if unbound:
                missing.append((task, unbound))
    if missing:
        raise FlowDefinitionError(flow.name, *_describe(missing))


def _required(signature: inspect.Signature) -> tuple[str, ...]:
    return tuple(
        p.name for p in signature.parameters.values() if p.kind in _FILLED and p.default is _P.empty
    )


def _describe(missing: list[tuple[Task, list[str]]]) -> tuple[str, str]:
    """(problem, fix) for the tasks in ``missing`` with their unbound arguments."""
    task, names = missing[0]
    shown = ", ".join(repr(n) for n in names)
    problem = (
        f"task {task.name!r} is missing required arguments {shown}; its run() signature "
        f"is {task.signature}."
    )
    others = [f"{t.name!r} (missing {', '.join(repr(n) for n in ns)})" for t, ns in missing[1:]]
    if others:
        more = f" and {len(others) - 9} more" if len(others) > 9 else ""
        problem += f" Also: {', '.join(others[:9])}{more}."
    first = names[0]
    call = f"{task.name if task.name.isidentifier() else 'task'}({first}=...)"
    fix = (
        f"Pass each when calling the task ({call}), or bind it before "
        f"the run: task.set_upstream(other_task, key={first!r}) or "
        f"flow.add_edge(other_task, task, key={first!r})."
    )
    return problem, fix
