"""Checks of a flow run's options, made before anything runs (state handlers included).

``flow.run(...)`` / ``FlowRunner.run(...)`` and an ``@flow``'s ``.run(...)`` take options
that are easy to get subtly wrong: a misspelt keyword, ``parameters`` as a list, a
``task_states`` key that is a task template rather than the copy in the flow, a value
that is not a ``State``, a context key that is not a string. Each is refused here with a
``RunOptionError`` naming the flow, the option and what to write instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.dag.task import Task
from orchestrator.errors import RunOptionError
from taskrun.context import non_string_keys
from taskrun.states import State

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow


def refuse_unknown_keywords(
    flow_name: str, method: str, unknown: Mapping[str, Any], accepted: Sequence[str]
) -> None:
    """Raise for the first of ``unknown`` (keywords ``method`` does not take), if any."""
    if not unknown:
        return
    name = sorted(unknown)[0]
    near = difflib.get_close_matches(name, accepted, n=1)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise RunOptionError(
        flow_name,
        name,
        f"{method} got an unknown keyword argument {name!r}.{hint}",
        f"It takes: {', '.join(accepted)}.",
    )


def parameters_dict(flow_name: str, parameters: Any) -> dict[str, Any]:
    """``parameters`` as a dict; raises unless it is a mapping of names to values."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise RunOptionError(
            flow_name,
            "parameters",
            f"parameters={_short(parameters)} is a {type(parameters).__name__}, not a "
            "mapping of parameter names to values.",
            "Pass parameters={'name': value, ...}.",
        )
    bad = non_string_keys(parameters)
    if bad:
        raise RunOptionError(
            flow_name,
            "parameters",
            f"parameters has keys that are not parameter names: {bad[:10]!r}.",
            "Key each value by the Parameter's name (a string): parameters={'name': value}.",
        )
    return dict(parameters)


def context_dict(flow_name: str, context: Any) -> dict[str, Any]:
    """``context`` as a dict; raises unless it maps string keys to values."""
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise RunOptionError(
            flow_name,
            "context",
            f"context={_short(context)} is a {type(context).__name__}, not a mapping.",
            "Pass context={'key': value, ...}.",
        )
    bad = non_string_keys(context)
    if bad:
        raise RunOptionError(
            flow_name,
            "context",
            f"context keys must be strings; got {bad[:10]!r}.",
            "Tasks read context keys as names (context.key, context['key']): use "
            "context={'key': value}.",
        )
    return dict(context)


def task_states_dict(flow: Flow, task_states: Any) -> dict[Task, State]:
    """``task_states`` as a dict; raises for a key not in ``flow`` or a value not a State."""
    if task_states is None:
        return {}
    if not isinstance(task_states, Mapping):
        raise RunOptionError(
            flow.name,
            "task_states",
            f"task_states={_short(task_states)} is a {type(task_states).__name__}, not a "
            "mapping of tasks to states.",
            "Pass task_states={task: state, ...}.",
        )
    for task, state in task_states.items():
        _check_in_flow(flow, "task_states", task)
        if not isinstance(state, State):
            raise RunOptionError(
                flow.name,
                "task_states",
                f"task_states[{task!r}] is {_short(state)} (a {type(state).__name__}), "
                "not a State.",
                "Give each task a state, e.g. Success(result=...), or Resume() to resume "
                "a paused task.",
            )
    return dict(task_states)


def tasks_set(flow: Flow, option: str, tasks: Any) -> set[Task] | None:
    """``start_tasks`` / ``return_tasks`` as a set (None for None); each must be in ``flow``."""
    if tasks is None:
        return None
    if isinstance(tasks, Task) or not isinstance(tasks, Iterable) or isinstance(tasks, str):
        raise RunOptionError(
            flow.name,
            option,
            f"{option}={_short(tasks)} is not a list of tasks.",
            f"Pass a list, even for one task: {option}=[task].",
        )
    chosen = set(tasks)
    for task in sorted(chosen, key=lambda t: str(getattr(t, "name", t))):
        _check_in_flow(flow, option, task)
    return chosen


def _check_in_flow(flow: Flow, option: str, task: Any) -> None:
    if isinstance(task, Task) and task in flow.tasks:
        return
    names = sorted({t.name for t in flow.tasks})
    if not isinstance(task, Task):
        problem = f"{option} holds {_short(task)}, which is not a task."
        name = task if isinstance(task, str) else None
        fix = "Use the Task objects of the flow"
        if name in names:
            fix += f", e.g. flow.get_tasks({name!r})[0] for the task named {name!r}."
        else:
            fix += f" (its tasks: {_listed(names)})."
        raise RunOptionError(flow.name, option, problem, fix)
    problem = f"{option} names task {task.name!r}, which is not in the flow."
    if task.name in names:
        fix = (
            "The flow holds a copy of it (calling a task inside `with Flow(...)` adds a copy): "
            f"use the task that call returned, or flow.get_tasks({task.name!r})."
        )
    else:
        near = difflib.get_close_matches(task.name, names, n=1)
        fix = f"Did you mean {near[0]!r}? " if near else ""
        fix += f"The flow's tasks are: {_listed(names)}."
    raise RunOptionError(flow.name, option, problem, fix)


def _listed(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (shown + more) or "none"


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
