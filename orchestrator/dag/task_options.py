"""Creation-time checks of a task's options and ``run`` signature.

They run when a task is created (or copied with new options), so a mistake surfaces at
the line that made it, with a message naming the task and saying what to write instead.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Iterable
from typing import Any

from orchestrator.errors import TaskDefinitionError

#: keywords a task call takes for itself; a ``run`` argument cannot use them
RESERVED_ARGUMENTS = ("upstream_tasks", "mapped", "task_args", "flow")


def run_signature(task_obj: Any) -> inspect.Signature:
    name = task_obj.name
    try:
        signature = inspect.signature(task_obj.run)
    except (TypeError, ValueError) as err:
        raise TaskDefinitionError(
            name,
            f"the signature of {task_obj.run!r} cannot be inspected ({err}).",
            "Wrap it in a normal function:\n\n"
            "    @task\n    def my_bool(x):\n        return bool(x)\n",
        ) from err
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            raise TaskDefinitionError(
                name,
                f"run() takes *{parameter.name}; arguments are passed "
                "by keyword, so *args is not allowed.",
                "Name each argument, e.g. def run(self, x, y).",
            )
        if parameter.name in RESERVED_ARGUMENTS:
            raise TaskDefinitionError(
                name,
                f"argument {parameter.name!r} is reserved ({', '.join(RESERVED_ARGUMENTS)}).",
                "Rename it.",
            )
    return signature


def check_retries(
    name: str, max_retries: int | None, retry_delay: Any
) -> tuple[int, _dt.timedelta | None]:
    if isinstance(retry_delay, (int, float)) and not isinstance(retry_delay, bool):
        retry_delay = _dt.timedelta(seconds=retry_delay)
    if retry_delay is not None and not isinstance(retry_delay, _dt.timedelta):
        raise TaskDefinitionError(
            name,
            f"retry_delay={retry_delay!r} is not a timedelta.",
            "Pass retry_delay=datetime.timedelta(seconds=10).",
        )
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise TaskDefinitionError(
            name,
            f"max_retries={max_retries!r} is not a count >= 0.",
            "Pass an int such as max_retries=3.",
        )
    if max_retries and retry_delay is None:
        raise TaskDefinitionError(
            name,
            f"max_retries={max_retries} needs a retry_delay.",
            "Pass retry_delay=datetime.timedelta(seconds=...) (0 is allowed).",
        )
    return max_retries or 0, retry_delay


def check_retry_on(name: str, retry_on: Any) -> tuple[type[BaseException], ...] | None:
    if retry_on is None:
        return None
    types = (retry_on,) if isinstance(retry_on, type) else tuple(retry_on)
    bad = [t for t in types if not (isinstance(t, type) and issubclass(t, BaseException))]
    if bad:
        raise TaskDefinitionError(
            name,
            f"retry_on contains non-exception values {bad!r}.",
            "Pass exception classes, e.g. retry_on={ConnectionError}.",
        )
    return types


def check_timeout(name: str, timeout: Any) -> float | None:
    if isinstance(timeout, _dt.timedelta):
        timeout = timeout.total_seconds()
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise TaskDefinitionError(
            name,
            f"timeout={timeout!r} is not a positive number of seconds.",
            "Pass e.g. timeout=30.",
        )
    return float(timeout)


def check_callables(name: str, option: str, values: Iterable[Any] | None) -> list[Any]:
    handlers = list(values or ())
    bad = [h for h in handlers if not callable(h)]
    if bad:
        raise TaskDefinitionError(
            name,
            f"{option} contains non-callables {bad!r}.",
            "Pass functions handler(task, old_state, new_state) -> state.",
        )
    return handlers
