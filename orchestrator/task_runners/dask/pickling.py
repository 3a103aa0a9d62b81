"""Pickling what the Dask runner ships, and saying exactly what refused to pickle.

Task runs on Dask travel cloudpickled, even to an in-process cluster (so a flow that
works there also works on a real one). When a task or an argument cannot pickle, the
run fails before reaching Dask with a message naming the task and the object that
refused: an attribute, a global or a closure variable of the task's function, an item
of an argument. No Dask here.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import cloudpickle

from orchestrator.errors import OrchestratorError

_DEPTH = 4


class UnpicklableError(OrchestratorError, TypeError):
    """A task, or an argument of a task run, cannot be pickled for a Dask worker."""

    def __init__(self, task_name: str, path: str, type_name: str, problem: str) -> None:
        super().__init__(task_name, path, type_name, problem)
        self.task_name, self.path = task_name, path
        self.type_name, self.problem = type_name, problem

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r} cannot be sent to Dask workers: {self.path} (a "
            f"{self.type_name}) cannot be pickled ({self.problem}). Task runs on Dask are "
            "cloudpickled; create such objects inside the task's run function (open the "
            "connection or lock there), or pass something picklable such as a path or URL."
        )


def dumps(obj: Any) -> bytes:
    data: bytes = cloudpickle.dumps(obj, protocol=5)
    return data


def dumps_task(task: Any) -> bytes:
    """The pickled task; raises ``UnpicklableError`` naming the part that refused."""
    try:
        return dumps(task)
    except Exception as err:  # pickling may fail in any way
        path, culprit = find_unpicklable(task, "the task")
        raise UnpicklableError(task.name, path, type(culprit).__name__, _problem(err)) from err


def check_value(task_name: str, label: str, value: Any) -> None:
    """Raise ``UnpicklableError`` if ``value`` (an argument ``label``) cannot pickle."""
    try:
        dumps(value)
    except Exception as err:  # pickling may fail in any way
        path, culprit = find_unpicklable(value, label)
        raise UnpicklableError(task_name, path, type(culprit).__name__, _problem(err)) from err


def find_unpicklable(value: Any, path: str, depth: int = _DEPTH) -> tuple[str, Any]:
    """The deepest part of ``value`` that cannot pickle, as (readable path, object)."""
    if depth > 0:
        for label, child in _parts(value):
            if not _pickles(child):
                return find_unpicklable(child, f"{path}{label}", depth - 1)
    return path, value


def _pickles(value: Any) -> bool:
    try:
        dumps(value)
    except Exception:  # pickling may fail in any way
        return False
    return True


def _parts(value: Any) -> Iterator[tuple[str, Any]]:
    """The labelled parts of ``value`` that pickling it would pickle too."""
    if isinstance(value, dict):
        yield from ((f"[{key!r}]", item) for key, item in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield from ((f"[{index}]", item) for index, item in enumerate(value))
    elif isinstance(value, types.FunctionType):
        code = value.__code__
        for name, cell in zip(code.co_freevars, value.__closure__ or (), strict=False):
            yield f" -> closure variable {name!r}", cell.cell_contents
        for name in code.co_names:
            if name in value.__globals__:
                yield f" -> global {name!r}", value.__globals__[name]
        for index, default in enumerate(value.__defaults__ or ()):
            yield f" -> default argument {index}", default
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for name, item in vars(value).items():
            if name == "run":
                yield f".run (function {getattr(item, '__name__', item)!r})", item
            else:
                yield f".{name}", item


def _problem(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
