"""Runner-level state handlers: hooks given to a runner rather than to a task or a flow.

Prefect 1 lets a caller watch every run a runner makes without changing the task or the
flow: ``TaskRunner(task, state_handlers=[h])`` calls ``h(task_runner, old, new)`` on each
transition of the task run, ``FlowRunner(flow, state_handlers=[h])`` calls
``h(flow_runner, old, new)`` on each transition of the flow run, and
``FlowRunner.run(task_runner_state_handlers=[h])`` gives ``h`` to the runner of every task.

The order on one transition is Prefect 1's: the task's own state handlers (then its
``on_failure``, which Prefect 1 keeps among them), then the runner's handlers; each sees
the new state the one before it returned. For a flow run: the flow's handlers, its
``on_failure``, then the flow runner's.

The executor (``taskrun.execute``) knows only task handlers, so a task run with runner
handlers runs a ``HandledTask``: the task as the executor reads it, whose handler list
calls each hook with the object it expects (the task, or the runner). It pickles as the
task plus the hooks, so it reaches a Dask worker like the task itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from taskrun.states import Failed, State

logger = logging.getLogger("orchestrator.FlowRunner")


class BoundHandler:
    """``handler(target, old, new)`` as the executor calls a task handler: ``(task, old,
    new)``; with ``on_failure``, ``handler(target, new)`` for failed states only."""

    __slots__ = ("__name__", "handler", "on_failure", "target")

    def __init__(self, target: Any, handler: Any, on_failure: bool = False) -> None:
        self.target, self.handler, self.on_failure = target, handler, on_failure
        self.__name__ = "on_failure" if on_failure else str(getattr(handler, "__name__", handler))

    def __call__(self, task: Any, old: State, new: State) -> object:
        if self.on_failure:
            if new.is_failed():
                self.handler(self.target, new)
            return None
        return self.handler(self.target, old, new)

    def __reduce__(self) -> tuple[Any, ...]:
        return (BoundHandler, (self.target, self.handler, self.on_failure))


class HandledTask:
    """``task`` with runner-level handlers after its own (see the module docstring); every
    other member is the task's."""

    __slots__ = ("on_failure", "runner", "runner_handlers", "state_handlers", "task")

    def __init__(self, task: Any, runner: Any, runner_handlers: Sequence[Any]) -> None:
        self.task, self.runner, self.runner_handlers = task, runner, tuple(runner_handlers)
        own = [BoundHandler(task, h) for h in getattr(task, "state_handlers", None) or ()]
        failure = getattr(task, "on_failure", None)
        if failure is not None:
            own.append(BoundHandler(task, failure, on_failure=True))
        own.extend(BoundHandler(runner, h) for h in self.runner_handlers)
        self.state_handlers: list[BoundHandler] = own
        self.on_failure = None

    def __getattr__(self, name: str) -> Any:  # only for names not set above
        if name.startswith("__") or name in HandledTask.__slots__:
            raise AttributeError(name)
        return getattr(self.task, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (HandledTask, (self.task, self.runner, self.runner_handlers))

    def __repr__(self) -> str:
        return f"<HandledTask {self.task!r}>"


def with_runner_handlers(task: Any, runner: Any, handlers: Iterable[Any] | None) -> Any:
    """``task`` itself when there are no runner handlers, else a ``HandledTask``."""
    hooks = list(handlers or ())
    return HandledTask(task, runner, hooks) if hooks else task


def check_handlers(owner: str, option: str, handlers: Sequence[Any]) -> None:
    """Raise ``TypeError`` naming ``owner`` for a handler that is not callable."""
    bad = [h for h in handlers if not callable(h)]
    if bad:
        raise TypeError(
            f"{owner!r}: {option} holds {bad!r}, which is not callable. Pass functions "
            "handler(runner, old_state, new_state) -> State | None."
        )


def call_flow_runner_handlers(
    flow_runner: Any, handlers: Sequence[Any], old: State, new: State
) -> State:
    """``new`` through the flow runner's handlers; a raising one fails the flow run (the
    task states so far stay its result), as a flow's own handler does."""
    for handler in handlers:
        try:
            returned = handler(flow_runner, old, new)
        except Exception as err:  # boundary: handlers are user code
            name = getattr(handler, "__name__", handler)
            flow_name = flow_runner.flow.name
            logger.error("Flow %r: runner state handler %r raised %r", flow_name, name, err)
            return Failed(
                f"Flow {flow_name!r}: FlowRunner state handler {name!r} raised {err!r}; "
                "the flow run is marked failed. Task states are kept as the result.",
                new.data,
            )
        new = returned if isinstance(returned, State) else new
    return new
