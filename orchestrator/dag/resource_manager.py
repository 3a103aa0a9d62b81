"""Resource managers: a resource set up before a block of tasks and cleaned up after it.

``@resource_manager`` turns a class with ``setup()`` (and optionally ``cleanup(resource)``)
into a ``ResourceManager``. Calling it inside a flow adds three tasks::

    init (the class, called with the arguments) ──> setup ──> tasks of the block ──> cleanup
        └───────────────────────────────────────────────────────────────────────────┘

``with MyResource(args) as resource:`` gives the setup task (its result is the
resource). While the block is open it records the tasks newly added to the flow
(``active.recording_blocks``); when it closes, each recorded task with no recorded
upstream waits for the setup task, and each with no recorded downstream becomes an
upstream of the cleanup task. The cleanup task runs once everything upstream of it has
finished, whatever the outcome, provided init and setup succeeded (otherwise there is
nothing to clean up and it is skipped). It never decides the flow's state: the flow's
default reference tasks skip it (``FlowGraph.reference_tasks``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.dag import active
from orchestrator.dag.collections import Constant
from orchestrator.dag.control_flow import blocks_with, open_block
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import FunctionTask, Task
from orchestrator.errors import FlowDefinitionError
from taskrun.states import State
from taskrun.triggers import Decision, TriggerResult

if TYPE_CHECKING:
    from types import TracebackType

    from orchestrator.dag.flow import Flow


class ResourceSetupTask(Task):
    """Calls ``mgr.setup()``; its result is the resource the block's tasks use."""

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, mgr: Any) -> Any:  # type: ignore[override]
        return mgr.setup()


class ResourceCleanupTask(Task):
    """Calls ``mgr.cleanup(resource)`` when the manager has a ``cleanup`` method."""

    #: read by ``FlowGraph.reference_tasks``: a cleanup task never decides the flow's state
    is_resource_cleanup = True

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, mgr: Any, resource: Any) -> None:  # type: ignore[override]
        cleanup = getattr(mgr, "cleanup", None)
        if cleanup is not None:
            cleanup(resource)


def resource_cleanup_trigger(upstream_states: Mapping[Hashable, State]) -> TriggerResult:
    """Run once every upstream task finished, if the resource's init and setup succeeded.

    The executor evaluates triggers only once all upstream states are finished, so the
    tasks of the block may have ended any way. Skip when init (edge ``mgr``) or setup
    (edge ``resource``) did not succeed or were skipped: no resource exists to clean up.
    """
    for edge, state in upstream_states.items():
        step = {"mgr": "init", "resource": "setup"}.get(getattr(edge, "key", None) or "")
        if step is None:
            continue
        if state.is_skipped() or not state.is_successful():
            outcome = "was skipped" if state.is_skipped() else f"ended {state.name}"
            return TriggerResult(
                Decision.SKIP, f"The resource's {step} task {outcome}; nothing to clean up."
            )
    return TriggerResult(Decision.RUN)


class ResourceContext:
    """The block ``with MyResource(...) as resource:`` opens; made by ``ResourceManager``."""

    kind = "resource"

    def __init__(self, init_task: Task, setup_task: Task, cleanup_task: Task, flow: Flow):
        self.init_task = init_task
        self.setup_task = setup_task
        self.cleanup_task = cleanup_task
        self.flow = flow
        self._tasks: dict[Task, None] = {}  # insertion-ordered set
        self._token: Any = None
        self._entered = False

    def __repr__(self) -> str:
        return f"<resource block: {self.init_task.name}>"

    def add_task(self, task: Task, flow: Flow) -> None:
        """Record ``task``, newly added to ``flow`` inside this block (``Flow.add_task``)."""
        if isinstance(task, (Parameter, Constant)):
            return
        if flow is not self.flow:
            raise FlowDefinitionError(
                flow.name,
                f"task {task.name!r} was added inside {self!r}, which belongs to flow "
                f"{self.flow.name!r}.",
                "Build a resource block's tasks in the flow the resource was created in.",
            )
        self._tasks[task] = None

    def __enter__(self) -> Task:
        building = open_block(self, "with MyResource(...) as resource:")
        if building is not self.flow:
            raise FlowDefinitionError(
                building.name,
                f"{self!r} was created for flow {self.flow.name!r}.",
                "Create the resource inside the `with Flow(...)` block it is used in.",
            )
        self._token = active.recording_blocks.set(blocks_with(self))
        return self.setup_task

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        active.recording_blocks.reset(self._token)
        if exc_type is not None:
            return
        flow, recorded = self.flow, self._tasks
        setup, cleanup = self.setup_task, self.cleanup_task
        for child in recorded:
            upstream = flow.upstream_tasks(child)
            if setup not in upstream and not any(t in recorded for t in upstream):
                flow.add_edge(setup, child)
            downstream = flow.downstream_tasks(child)
            if cleanup not in downstream and not any(t in recorded for t in downstream):
                flow.add_edge(child, cleanup)

    @property
    def tasks(self) -> list[Task]:
        """The tasks recorded in the block, in the order they were added."""
        return list(self._tasks)


class ResourceManager:
    """Makes a resource's init, setup and cleanup tasks each time it is called in a flow.

    Usually made with ``@resource_manager``. ``*_task_kwargs`` are passed to the ``Task``
    constructor of that task (``name``, ``max_retries``, ``trigger``, ...).
    """

    def __init__(
        self,
        resource_class: Callable[..., Any],
        name: str | None = None,
        init_task_kwargs: Mapping[str, Any] | None = None,
        setup_task_kwargs: Mapping[str, Any] | None = None,
        cleanup_task_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        label = name or getattr(resource_class, "__name__", "resource")
        if not callable(getattr(resource_class, "setup", None)):
            raise TypeError(
                f"resource_manager: {label!r} has no setup() method. A resource class "
                "needs setup(self) returning the resource, and may have "
                "cleanup(self, resource)."
            )
        self.resource_class = resource_class
        self.name = label
        self.init_task_kwargs = {"name": label, **(init_task_kwargs or {})}
        self.setup_task_kwargs = {"name": f"{label}.setup", **(setup_task_kwargs or {})}
        self.cleanup_task_kwargs = {
            "name": f"{label}.cleanup",
            "trigger": resource_cleanup_trigger,
            "skip_on_upstream_skip": False,
            **(cleanup_task_kwargs or {}),
        }

    def __repr__(self) -> str:
        return f"<ResourceManager: {self.name}>"

    def __call__(self, *args: Any, flow: Flow | None = None, **kwargs: Any) -> ResourceContext:
        """Add the init, setup and cleanup tasks to ``flow`` (default: the one being built)."""
        target = flow or active.building_flow.get()
        if target is None:
            raise ValueError(
                f"{self.name}(...) is a resource manager: it adds tasks to a flow, but no "
                "flow is being built. Use it inside `with Flow('name'):` as "
                f"`with {self.name}(...) as resource:`, or pass flow=..."
            )
        init_task = FunctionTask(self.resource_class, **self.init_task_kwargs)
        init = init_task(*args, flow=target, **kwargs)
        setup = ResourceSetupTask(**self.setup_task_kwargs).bind(mgr=init, flow=target)
        cleanup = ResourceCleanupTask(**self.cleanup_task_kwargs).bind(
            mgr=init, resource=setup, flow=target
        )
        return ResourceContext(init, setup, cleanup, target)


def resource_manager(
    resource_class: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    init_task_kwargs: Mapping[str, Any] | None = None,
    setup_task_kwargs: Mapping[str, Any] | None = None,
    cleanup_task_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Make a class with ``setup()`` and optional ``cleanup(resource)`` a resource manager.

    ``@resource_manager`` or ``@resource_manager(name=..., setup_task_kwargs=...)``.
    ``__init__`` runs in the init task (its arguments may be task results), ``setup`` in
    the setup task, and ``cleanup`` after every task of the block has finished, whatever
    their states, as long as setup succeeded.

    >>> from orchestrator import Flow, task
    >>> @resource_manager
    ... class Scratch:
    ...     def __init__(self, size):
    ...         self.size = size
    ...     def setup(self):
    ...         return [0] * self.size
    ...     def cleanup(self, buffer):
    ...         buffer.clear()
    >>> @task
    ... def fill(buffer):
    ...     return len(buffer)
    >>> with Flow("resource-example") as f:
    ...     with Scratch(3) as buffer:
    ...         filled = fill(buffer)
    >>> f.run().result()[filled].result()
    3
    """

    def decorate(cls: Callable[..., Any]) -> ResourceManager:
        return ResourceManager(
            cls,
            name=name,
            init_task_kwargs=init_task_kwargs,
            setup_task_kwargs=setup_task_kwargs,
            cleanup_task_kwargs=cleanup_task_kwargs,
        )

    if resource_class is None:
        return decorate
    return decorate(resource_class)
