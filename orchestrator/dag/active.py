"""What is being built or run right now in this thread: a ``Flow`` or a ``@flow`` run.

Calling a task means different things depending on this: inside ``with Flow()``
it adds a copy to that flow; inside a running ``@flow`` it submits a task run;
elsewhere it runs the body directly.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task


class TaskSubmitter(Protocol):
    """A running ``@flow``: turns task calls into submitted task runs."""

    def submit_task(
        self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: Any, mapped: bool
    ) -> Any: ...


class TaskRecorder(Protocol):
    """An open ``case`` or resource block (``orchestrator.dag.control_flow``,
    ``orchestrator.dag.resource_manager``): told of each task newly added to a flow."""

    #: one block of each kind is open at a time: an inner ``case`` replaces the outer one
    kind: str

    def add_task(self, task: Task, flow: Flow) -> None: ...


building_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar(
    "orchestrator_building_flow", default=None
)
running_flow: contextvars.ContextVar[TaskSubmitter | None] = contextvars.ContextVar(
    "orchestrator_running_flow", default=None
)
#: the innermost open block of each kind, in the order they were opened
recording_blocks: contextvars.ContextVar[tuple[TaskRecorder, ...]] = contextvars.ContextVar(
    "orchestrator_recording_blocks", default=()
)
