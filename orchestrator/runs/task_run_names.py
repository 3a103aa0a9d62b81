"""Task-run names from a task's ``task_run_name`` option (Prefect 1's templates).

``@task(task_run_name="{x}-{map_index}")`` names each run from the keys it sees, later
winning (Prefect 1's order): the flow's parameter values, the context keys (``map_index``,
``flow_name``, ``today``, ...), then the run's inputs. A callable gets the same keys as
keyword arguments (``lambda **keys: f"load-{keys['path']}"``) and returns the name.

Where the name shows:

    context.task_run_name      inside the body (and the log lines it writes)
    the Dask key               when the template can be filled when the run is submitted
                               (it names no upstream result): its name first, then the
                               task's token and the map index, so keys stay unique

The executor knows nothing of templates: a run of such a task executes a ``NamedTask``,
whose ``run`` fills the template with its inputs, sets ``task_run_name`` around the body
and calls the task's own ``run``. A template naming a key the run does not have ends the
run ``Failed`` (``ENDRUN``: it is not retried, no attempt would fare better) with a
message listing the keys it could use.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.runs.runner_handlers import HandledTask, with_runner_handlers
from taskrun.context import current, enter, leave
from taskrun.signals import ENDRUN
from taskrun.states import Failed

#: characters a Dask key keeps from a task-run name (others become ``_``)
_UNSAFE_IN_KEY = re.compile(r"[^A-Za-z0-9_.=]+")
#: keys of the run context that are no names (left out of the "available" list)
_HIDDEN = frozenset({"logger", "single_pass", "executor_logs"})


class TaskRunNameError(ValueError):
    """A task's ``task_run_name`` cannot be filled for one run."""

    def __init__(self, task_name: str, template: str, problem: str, keys: Sequence[str]) -> None:
        super().__init__(task_name, template, problem, keys)
        self.task_name, self.template, self.problem, self.keys = task_name, template, problem, keys

    def __str__(self) -> str:
        shown = ", ".join(self.keys[:30]) + (" and more" if len(self.keys) > 30 else "")
        return (
            f"Task {self.task_name!r}: task_run_name {self.template!r} {self.problem}. "
            f"Available keys: {shown}. Name a task input, a parameter or a context key."
        )


def name_keys(run_keys: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a template may name: parameters, then context keys, then the run's inputs."""
    parameters = run_keys.get("parameters")
    keys = dict(parameters) if isinstance(parameters, Mapping) else {}
    keys.update((k, v) for k, v in run_keys.items() if k not in _HIDDEN)
    keys.update(inputs)
    return keys


def format_task_run_name(task: Any, keys: Mapping[str, Any]) -> str:
    """``task.task_run_name`` filled from ``keys``; raises ``TaskRunNameError``."""
    template = task.task_run_name
    shown = template if isinstance(template, str) else getattr(template, "__name__", "callable")
    try:
        name = template.format(**keys) if isinstance(template, str) else template(**keys)
    except KeyError as err:
        raise TaskRunNameError(task.name, shown, f"names {err.args[0]!r}", sorted(keys)) from err
    except (IndexError, ValueError, AttributeError, TypeError) as err:
        raise TaskRunNameError(task.name, shown, f"cannot be filled: {err}", sorted(keys)) from err
    if not isinstance(name, str):
        problem = f"returned {name!r}, not a string"
        raise TaskRunNameError(task.name, shown, problem, sorted(keys))
    return name


def submitted_name(task: Any, run_keys: Mapping[str, Any], inputs: Mapping[str, Any],
                   map_index: int | None) -> str | None:  # fmt: skip
    """The name, fit for a Dask key, when the template needs only what is known before the
    run (constants, context, parameters); None when it needs upstream results."""
    template = task.task_run_name
    if not isinstance(template, str):
        return None
    needed = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    keys = name_keys({**run_keys, "map_index": map_index}, inputs)
    if any(_root(field) not in keys for field in needed):
        return None
    try:
        name = format_task_run_name(task, keys)
    except TaskRunNameError:
        return None  # the run itself fails, saying why
    return _UNSAFE_IN_KEY.sub("_", name).strip("_-") or None


def _root(field: str) -> str:
    """The key a format field reads: ``x`` of ``x.attr`` and ``x[0]``."""
    return re.split(r"[.\[]", field, maxsplit=1)[0]


def runnable_task(task: Any, runner: Any, handlers: Sequence[Any]) -> Any:
    """What the executor runs for ``task``: the task itself, or a ``HandledTask`` (runner
    handlers), or a ``NamedTask`` (a ``task_run_name``, with any runner handlers)."""
    if getattr(task, "task_run_name", None) is not None:
        return NamedTask(task, runner, handlers)
    return with_runner_handlers(task, runner, handlers)


class NamedTask(HandledTask):
    """A task whose runs are named from its ``task_run_name`` (see the module docstring)."""

    __slots__ = ()

    def run(self, **inputs: Any) -> Any:
        task = self.task
        keys = current()
        try:
            name = format_task_run_name(task, name_keys(keys, inputs))
        except TaskRunNameError as err:
            raise ENDRUN(Failed(str(err), err)) from err
        token = enter({**keys, "task_run_name": name})
        try:
            return task.run(**inputs)
        finally:
            leave(token)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NamedTask, (self.task, self.runner, self.runner_handlers))

    def __repr__(self) -> str:
        return f"<NamedTask {self.task!r}>"
