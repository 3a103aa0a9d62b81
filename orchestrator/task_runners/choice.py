"""Choosing a task runner: what a ``task_runner=`` option may be, resolved in one place.

``Flow(task_runner=...)``, ``flow.run(task_runner=...)``, ``FlowRunner.run`` and
``@flow(task_runner=...)`` all accept the same things:

    None                                  -> None (the caller's default)
    a task runner                         -> itself
    a task-runner class                   -> an instance made with no arguments
    "sequential" / "concurrent" / "dask"  -> that runner with its defaults (any case)

Anything else is refused with the list above. Dask is imported only when "dask" (or the
``DaskTaskRunner`` class itself) is asked for.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from orchestrator.errors import RunOptionError
from orchestrator.task_runners.base import AnyTaskRunner, BaseTaskRunner

#: what a ``task_runner=`` option may be (see the module docstring)
RunnerOption = AnyTaskRunner | type[AnyTaskRunner] | str | None


def _sequential() -> AnyTaskRunner:
    from orchestrator.task_runners.sequential import SequentialTaskRunner

    return SequentialTaskRunner()


def _concurrent() -> AnyTaskRunner:
    from orchestrator.task_runners.concurrent import ConcurrentTaskRunner

    return ConcurrentTaskRunner()


def _dask() -> AnyTaskRunner:
    from orchestrator.task_runners.dask.runner import DaskTaskRunner

    return DaskTaskRunner()


#: the names a task runner may be given by, and what each makes
RUNNER_NAMES: dict[str, Callable[[], AnyTaskRunner]] = {
    "sequential": _sequential,
    "concurrent": _concurrent,
    "dask": _dask,
}

_ACCEPTED = (
    "a task runner such as SequentialTaskRunner(), ConcurrentTaskRunner() or "
    "DaskTaskRunner(address=...), a task-runner class (made with no arguments), or one of "
    "the names 'sequential', 'concurrent', 'dask'."
)


def resolve_task_runner(option: Any, flow_name: str) -> AnyTaskRunner | None:
    """The task runner ``option`` stands for (see the module docstring); None for None.

    Raises:
        RunOptionError: ``option`` is none of the accepted things, or its class cannot be
            made without arguments; the message names the flow and lists what is accepted.
    """
    if option is None or isinstance(option, BaseTaskRunner):
        return option
    if isinstance(option, str):
        make = RUNNER_NAMES.get(option.strip().lower())
        if make is None:
            near = difflib.get_close_matches(option.strip().lower(), RUNNER_NAMES, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise RunOptionError(
                flow_name,
                "task_runner",
                f"task_runner={option!r} is not a task runner name.{hint}",
                f"Pass {_ACCEPTED}",
            )
        return make()
    if isinstance(option, type) and issubclass(option, BaseTaskRunner):
        try:
            runner: AnyTaskRunner = option()
        except TypeError as err:
            raise RunOptionError(
                flow_name,
                "task_runner",
                f"task_runner={option.__name__} (the class) cannot be made without "
                f"arguments ({err}).",
                f"Pass an instance instead: task_runner={option.__name__}(...).",
            ) from err
        return runner
    raise RunOptionError(
        flow_name,
        "task_runner",
        f"task_runner={option!r} (a {type(option).__name__}) is not a task runner.",
        f"Pass {_ACCEPTED}",
    )


def runner_or_executor(flow_name: str, task_runner: Any, executor: Any) -> Any:
    """The ``task_runner=`` option of a run given as ``task_runner=`` or as Prefect 1's
    ``executor=`` (the same things are accepted); None when neither is given.

    Raises:
        RunOptionError: both are given, so which one the run should use is unclear.
    """
    if executor is None:
        return task_runner
    if task_runner is not None:
        raise RunOptionError(
            flow_name,
            "executor",
            f"both task_runner={task_runner!r} and executor={executor!r} were given.",
            "Pass only one: executor= is Prefect 1's name for task_runner=.",
        )
    return executor
