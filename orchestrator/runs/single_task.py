"""TaskRunner: run one task as the orchestrator sees it, without a flow.

Useful to test a task's trigger, retries, signals and handlers in isolation:

    >>> from orchestrator import task
    >>> @task
    ... def number_task():
    ...     return 42
    >>> TaskRunner(task=number_task).run().result()
    42
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from orchestrator.runs.run_context import run_context
from taskrun.execute import run_task
from taskrun.states import State


class TaskRunner:
    """Runs ``task`` once with given upstream states and returns its final state."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def run(
        self,
        state: State | None = None,
        upstream_states: Mapping[Hashable, State] | None = None,
        context: Mapping[str, Any] | None = None,
        map_index: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        is_start_task: bool = False,
    ) -> State:
        """Check readiness and trigger, run the body with retries, return the state.

        Args:
            state: the state to start from (e.g. ``Resume()``).
            upstream_states: ``{Edge: State}``; data edges pass their results as arguments.
            inputs: extra keyword arguments for the body.
        """
        keys = run_context(context)
        return run_task(
            self.task,
            upstream_states or {},
            inputs=inputs,
            map_index=map_index,
            run_context=keys,
            initial_state=state,
            is_start_task=is_start_task,
        )
