"""Task: a unit of work, as a ``Task`` subclass with ``run()`` or a ``@task`` function.

Options are checked when the task is created, so a mistake surfaces at the line
that made it. Calling a task inside ``with Flow(...)`` adds a *copy* of it to the
flow (so one task can be used many times); inside a running ``@flow`` it submits
a task run; anywhere else it runs the body directly (Prefect 1 raises there instead: a
direct call is kept because it is the simplest way to test a body, and ``task.run(...)``
stays the documented spelling). Operators, unpacking and ``pipe`` are in ``task_operators``.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from orchestrator.dag import active
from orchestrator.dag.argument_checks import refuse_flow_values
from orchestrator.dag.argument_layout import ArgumentLayout
from orchestrator.dag.result_options import set_result_options
from orchestrator.dag.tags import context_tags
from orchestrator.dag.task_copies import argument_layout, new_slug, shallow_copy
from orchestrator.dag.task_operators import TaskOperators, infer_nout
from orchestrator.dag.task_options import (
    check_batch_size,
    check_copied_options,
    check_max_in_flight,
    check_nout,
    check_on_failure,
    check_retries,
    check_retry_on,
    check_state_handlers,
    check_tags,
    check_task_run_name,
    check_timeout,
    check_timeout_isolation,
    check_trigger,
    run_signature,
)
from orchestrator.errors import TaskDefinitionError
from taskrun.triggers import all_successful

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow

#: attributes ``Task.__init__`` sets; missing ones mean a subclass skipped it
_INIT_ATTRIBUTES = frozenset(
    {
        "name", "slug", "tags", "max_retries", "retry_delay", "retry_on", "timeout", "trigger",
        "skip_on_upstream_skip", "state_handlers", "on_failure", "log_stdout", "batch_size",
        "dependencies", "_template", "_flow_ref", "signature", "timeout_isolation", "nout",
    }
)  # fmt: skip
StateHandler = Callable[[Any, Any, Any], Any]


class Task(TaskOperators):
    """A unit of work; subclass it and implement ``run``, or use ``@task``.

    Tags given by an enclosing ``with tags(...)`` block are added to ``tags``. ``nout`` is
    the number of items of the result (``x, y = task()`` unpacks it), by default read from
    a ``tuple[...]`` return annotation of ``run``.

    >>> class AddTask(Task):
    ...     def run(self, x, y):
    ...         return x + y
    >>> AddTask(name="Add")
    <Task: Add>
    """

    def __init__(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        max_retries: int | None = None,
        retry_delay: _dt.timedelta | float | None = None,
        retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
        timeout: float | _dt.timedelta | None = None,
        trigger: Callable[..., Any] | None = None,
        skip_on_upstream_skip: bool = True,
        state_handlers: Iterable[StateHandler] | None = None,
        on_failure: Callable[[Any, Any], Any] | None = None,
        log_stdout: bool = False,
        batch_size: int | None = None,
        timeout_isolation: str = "process",
        nout: int | None = None,
        result: Any = None,
        target: str | Callable[..., str] | None = None,
        checkpoint: bool | None = None,
        cache_for: _dt.timedelta | float | None = None,
        cache_validator: Callable[..., bool] | None = None,
        cache_key: str | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.name = name or type(self).__name__
        self.slug = slug or new_slug(self.name)
        self._slug_given = slug is not None  # a flow's slugs keep a given one (flow.slugs)
        self.tags = check_tags(self.name, tags) | context_tags()
        self.max_retries, self.retry_delay = check_retries(self.name, max_retries, retry_delay)
        self.retry_on = check_retry_on(self.name, retry_on)
        self.timeout = check_timeout(self.name, timeout)
        self.timeout_isolation = check_timeout_isolation(self.name, timeout_isolation)
        check_trigger(self.name, trigger)
        self.trigger = trigger if trigger is not None else all_successful
        self.skip_on_upstream_skip = skip_on_upstream_skip
        self.state_handlers = check_state_handlers(self.name, state_handlers)
        self.on_failure = check_on_failure(self.name, on_failure)
        self.log_stdout = log_stdout
        self.batch_size = check_batch_size(self.name, batch_size)
        #: mapped branches through this task alive at once (``runs/in_flight.py``)
        self.max_in_flight = check_max_in_flight(self.name, max_in_flight)
        self.dependencies: list[Dependency] = []
        self._template: Task = self
        self._flow_ref: weakref.ref[Flow] | None = None
        self.signature = run_signature(self)
        self._arguments = ArgumentLayout(self.signature)
        given_nout = None if nout is None else check_nout(self.name, nout)
        self.nout = infer_nout(self.run, self.signature) if given_nout is None else given_nout
        set_result_options(self, result, target, checkpoint, cache_for, cache_validator, cache_key)
        #: names each run: a format string or a callable (``runs/task_run_names.py``)
        self.task_run_name = check_task_run_name(self.name, task_run_name)

    # ---- the body -----------------------------------------------------------------------------
    def run(self) -> Any:
        """The task's work; the base class does nothing (a handy no-op task)."""
        return None

    # ---- identity -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Task: {self.name}>"

    def __getattr__(self, name: str) -> Any:
        # Only reached for a missing attribute: say so plainly when a subclass's __init__
        # never called Task.__init__, instead of failing later deep inside a flow.
        if name in _INIT_ATTRIBUTES and "signature" not in self.__dict__:
            cls = type(self).__name__
            raise AttributeError(
                f"{cls!r} object has no attribute {name!r}: {cls}.__init__ did not "
                f"call Task.__init__. Call super().__init__(*args, **kwargs) in "
                f"{cls}.__init__ so it becomes a complete task."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the weak reference to the flow being built (it cannot pickle, and a
        task run shipped to a worker needs no flow)."""
        state = self.__dict__.copy()
        state["_flow_ref"] = None
        return state

    def copy(self, **task_args: Any) -> Task:
        """A new task with the same options, overridden by ``task_args`` (plus the tags of
        an enclosing ``with tags(...)`` block)."""
        if task_args:
            unknown = sorted(k for k in task_args if not hasattr(self, k))
            if unknown:
                raise TaskDefinitionError(
                    self.name,
                    f"task_args names unknown attributes {unknown}.",
                    "Use attributes such as name, tags, trigger, max_retries.",
                )
        new = shallow_copy(self, Task.__getstate__)
        new.tags = set(self.tags)
        new.dependencies = list(self.dependencies)
        new._flow_ref = None
        for key, value in task_args.items():
            setattr(new, key, check_tags(new.name, value) if key == "tags" else value)
        new.tags |= context_tags()
        if "slug" not in task_args:
            new.slug, new._slug_given = new_slug(new.name), False
        else:
            new._slug_given = True
        if task_args:
            check_copied_options(new, task_args)
        return new

    # ---- functional API ---------------------------------------------------------------------
    def __call__(
        self,
        *args: Any,
        mapped: bool = False,
        task_args: dict[str, Any] | None = None,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        wait_for: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Add a copy to the flow being built, submit a run in a ``@flow``, or run directly."""
        submitter = active.running_flow.get()
        if submitter is not None and flow is None:
            if upstream_tasks:  # the DAG spelling of a state dependency
                listed = isinstance(wait_for, list | tuple)
                given = [] if wait_for is None else wait_for if listed else [wait_for]
                wait_for = [*given, *upstream_tasks]
            target_task = self.copy(**task_args) if task_args else self
            refuse_flow_values(getattr(submitter, "flow_name", "?"), target_task, args, kwargs)
            return submitter.submit_task(target_task, args, kwargs, wait_for, mapped)
        target = flow or active.building_flow.get()
        if target is None:
            if mapped or upstream_tasks:
                raise ValueError(
                    f"Task {self.name!r}: mapping and upstream_tasks need a flow; "
                    f"call it inside `with Flow(...)` or a @flow function."
                )
            return self.run(*args, **kwargs)
        new = self.copy(**(task_args or {}))
        return new.bind(*args, mapped=mapped, upstream_tasks=upstream_tasks, flow=target, **kwargs)

    def map(
        self,
        *args: Any,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        task_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Spawn one child per element of the mapped arguments (``unmapped`` ones stay whole)."""
        return self(
            *args,
            mapped=True,
            task_args=task_args,
            upstream_tasks=upstream_tasks,
            flow=flow,
            **kwargs,
        )

    def bind(
        self,
        *args: Any,
        mapped: bool = False,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """Wire this very task's inputs in ``flow`` (no copy); returns the task."""
        target = self._resolve_flow(flow, "bind")
        arguments = self.bind_arguments(args, kwargs)
        target.set_dependencies(
            self, upstream_tasks=upstream_tasks, keyword_tasks=arguments, mapped=mapped
        )
        return self

    def bind_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Name every argument by the signature of ``run``; unknown ones are an error."""
        arguments = argument_layout(self).bind(args, kwargs)
        if arguments is not None:
            return arguments
        try:  # inspect's binding, for its error messages and the rare signatures
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError as err:
            raise TypeError(
                f"Task {self.name!r}: {err}. Its run() signature is {self.signature}."
            ) from err
        arguments = dict(bound.arguments)
        for name, parameter in self.signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD and name in arguments:
                arguments.update(arguments.pop(name))
        return arguments

    def __getitem__(self, key: Any) -> Task:
        """A task returning ``self``'s result indexed by ``key`` (e.g. ``rows[0]``)."""
        item: Task = GetItem(name=f"{self.name}[{key!r}]")(
            task_result=self, key=key, flow=self._resolve_flow(None, "index")
        )
        return item

    # ---- imperative API ---------------------------------------------------------------------
    def set_upstream(
        self, task: Any, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> None:
        """Make ``task`` an upstream of this task (passing its result as ``key`` if given)."""
        target = self._resolve_flow(flow, "set_upstream")
        target.set_dependencies(
            self,
            upstream_tasks=[task] if key is None else None,
            keyword_tasks={key: task} if key is not None else None,
            mapped=mapped,
        )

    def set_downstream(
        self, task: Task, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> None:
        """Make ``task`` a downstream of this task (receiving its result as ``key`` if given)."""
        target = self._resolve_flow(flow, "set_downstream")
        target.set_dependencies(
            task,
            upstream_tasks=[self] if key is None else None,
            keyword_tasks={key: self} if key is not None else None,
            mapped=mapped,
        )

    def depends_on(self, *dependencies: Dependency) -> Task:
        """Declare upstream dependencies; they become edges in every flow this task joins."""
        for dependency in dependencies:
            if not isinstance(dependency, Dependency):
                raise TypeError(
                    f"Task {self.name!r}: depends_on() takes Dependency objects, got "
                    f"{dependency!r}. Write task.depends_on(Dependency(other))."
                )
            self.dependencies.append(dependency)
        flow = self._flow_ref() if self._flow_ref is not None else None
        if flow is not None and self in flow.tasks:
            flow.resolve_dependencies(self)
        return self

    def _function_task(self, fn: Callable[..., Any], name: str) -> Task:
        return FunctionTask(fn, name=name)

    def _resolve_flow(self, flow: Flow | None, action: str) -> Flow:
        target = flow or active.building_flow.get()
        if target is None and self._flow_ref is not None:
            target = self._flow_ref()
        if target is None:
            raise ValueError(
                f"Task {self.name!r}: {action} needs a flow. Call it inside "
                f"`with Flow('name'):`, pass flow=..., or add the task to a flow first."
            )
        return target


class GetItem(Task):
    """Returns ``task_result[key]``: the task ``task[key]`` adds (here, as ``Task`` builds it)."""

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, task_result: Any, key: Any) -> Any:  # type: ignore[override]
        return task_result[key]


class FunctionTask(Task):
    """A task whose ``run`` is a plain function (what ``@task`` builds)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **options: Any) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {fn!r}")
        self.run = fn  # type: ignore[method-assign]  # the function is this task's body
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        super().__init__(name=name or getattr(fn, "__name__", type(fn).__name__), **options)


def task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a function a task: ``@task`` or ``@task(name=..., max_retries=..., ...)``.

    With ``timeout=`` seconds, each attempt runs the body in a child process, killed when
    the timeout passes: the attempt ends ``TimedOut`` once the body is gone, so a retry
    never overlaps it. It costs a process start per attempt (about 0.1-0.3 s, not counted
    in the timeout) and pickling the body, its inputs and its result; changes the body
    makes to the calling process's objects stay in the child. With
    ``timeout_isolation="thread"`` it runs in a thread: the timeout is reported on time
    but cannot stop the work.

    >>> @task(name="Add")
    ... def add_task(x, y):
    ...     return x + y
    >>> add_task
    <Task: Add>
    >>> add_task.run(1, 2)
    3
    """
    if fn is None:
        return lambda f: FunctionTask(f, **options)
    return FunctionTask(fn, **options)


class Dependency:
    """An upstream dependency declared with ``task.depends_on(Dependency(other, key=...))``.

    Passed as an argument (``consumer(Dependency(producer, key="rows"))``) it delivers
    ``producer``'s result, or its item ``key`` when a key is given.
    """

    def __init__(self, task: Task, key: Any = None) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"Dependency needs a Task, got {task!r}")
        self.task = task
        self.key = key

    def __repr__(self) -> str:
        return f"Dependency({self.task!r}, key={self.key!r})"
