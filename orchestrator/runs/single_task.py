"""TaskRunner: run one task as the orchestrator sees it, without a flow.

Useful to test a task's trigger, retries, signals and handlers in isolation:

    >>> from orchestrator import task
    >>> @task
    ... def number_task():
    ...     return 42
    >>> TaskRunner(task=number_task).run().result()
    42

``run()`` is a single pass, as Prefect 1's: an attempt that will be retried ends the pass
in its ``Retrying`` state (``start_time``: when the next attempt is due, ``run_count``: the
attempts made). Call ``run(state=that_state)`` again: before ``start_time`` the state comes
back unchanged; once it is due (at once for a zero ``retry_delay``) the next attempt runs.

    >>> import datetime
    >>> @task(max_retries=1, retry_delay=datetime.timedelta(0))
    ... def flaky():
    ...     from orchestrator import context
    ...     if context.task_run_count == 1:
    ...         raise ConnectionError("first attempt")
    ...     return "second attempt"
    >>> runner = TaskRunner(task=flaky)
    >>> first = runner.run()
    >>> first.name, first.run_count
    ('Retrying', 1)
    >>> runner.run(state=first).result()
    'second attempt'
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from orchestrator.runs.run_context import run_context
from orchestrator.runs.runner_handlers import check_handlers
from orchestrator.runs.task_run_names import runnable_task
from taskrun.execute import run_task
from taskrun.retries import SINGLE_PASS
from taskrun.states import State


class TaskRunner:
    """Runs single passes of ``task`` with given upstream states.

    ``state_handlers``: ``handler(task_runner, old_state, new_state) -> State | None``,
    called on every transition of the task run after the task's own state handlers (and
    its ``on_failure``), as Prefect 1 orders them; a returned state replaces the new one.
    """

    def __init__(self, task: Any, state_handlers: Iterable[Any] | None = None) -> None:
        self.task = task
        self.state_handlers = list(state_handlers or ())
        check_handlers(getattr(task, "name", repr(task)), "state_handlers", self.state_handlers)
        #: what the executor runs: the task, with this runner's handlers when it has any
        self.runnable = runnable_task(task, self, self.state_handlers)

    def run(
        self,
        state: State | None = None,
        upstream_states: Mapping[Hashable, State] | None = None,
        context: Mapping[str, Any] | None = None,
        map_index: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        executor: Any = None,
        is_start_task: bool = False,
    ) -> State:
        """One pass: check readiness and trigger, run one attempt, return the state.

        Args:
            state: the state to start from (``Resume()``, or the ``Retrying`` state an
                earlier pass returned).
            upstream_states: ``{Edge: State}``; data edges pass their results as arguments.
            inputs: extra keyword arguments for the body.
            executor: accepted for Prefect 1 compatibility; a single task run always
                executes here, in the calling thread.
        """
        del executor  # Prefect 1 submitted mapped children through it; we run one task run
        keys = run_context(context)
        return run_task(
            self.runnable,
            upstream_states or {},
            inputs=inputs,
            map_index=map_index,
            run_context=keys,
            initial_state=state,
            is_start_task=is_start_task,
            sleep=SINGLE_PASS,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # a HandledTask pickles its runner: rebuild from the task and handlers (no cycle)
        return (TaskRunner, (self.task, self.state_handlers))

    def __repr__(self) -> str:
        return f"<TaskRunner: {getattr(self.task, 'name', self.task)}>"
