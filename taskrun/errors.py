"""Errors of the task-run executor: the exceptions users find inside the states it returns.

The executor never raises them. Each becomes the result of the state it explains
(``TriggerFailed``, ``Failed``), so ``state.result()`` raises it and the futures API reads
its fields. They travel inside states between processes, so each pickles (every
constructor argument goes to ``super().__init__``, or ``__reduce__`` passes them).
"""

from __future__ import annotations

from typing import Any

from taskrun.signals import TRIGGERFAIL


class TriggerFailedError(TRIGGERFAIL):
    """The result of a ``TriggerFailed`` state: the ``TRIGGERFAIL`` signal of the task's
    trigger (Prefect 1's result of that state), naming the task and why it did not pass."""

    def __init__(self, task_name: str, reason: str) -> None:
        self.task_name = task_name
        self.reason = reason
        super().__init__(f"Task {task_name!r}: trigger did not pass. {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (TriggerFailedError, (self.task_name, self.reason))


class MissingInputError(Exception):
    """The result of a start or resumed task's ``Failed`` state when its data is unknown.

    A start task skips the upstream checks, but a data edge still needs the upstream
    result: an earlier run's state passed in ``task_states``.
    """

    def __init__(self, task_name: str, missing: list[tuple[str, str]]) -> None:
        super().__init__(task_name, missing)
        self.task_name = task_name
        #: (argument, upstream task) pairs whose upstream has no finished state
        self.missing = missing

    def __str__(self) -> str:
        shown = ", ".join(f"argument {arg!r} from task {up}" for arg, up in self.missing)
        return (
            f"Task {self.task_name!r}: cannot start without its inputs: {shown} did not "
            "finish in this flow run. Pass the earlier run's states, e.g. flow.run(task_states="
            "{**paused_flow_state.result(), task: Resume()}, start_tasks=[task])."
        )
