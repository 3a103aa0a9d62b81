"""Control flow in a DAG: ``case`` blocks, ``switch``, ``ifelse``, ``merge`` and ``FilterTask``.

A flow is built once and run many times, so a branch cannot be a Python ``if``: it is a
task that compares a result with a value and raises ``SKIP`` when they differ. The tasks
of the branch hang below that comparison task and skip with it (the usual
``skip_on_upstream_skip``); ``merge`` joins the branches again and runs when at least
one of them did not skip.

::

    cond ──> CompareValue("a") ──> run_if_a ──┐
        └──> CompareValue("b") ──> run_if_b ──┴──> merge

``with case(cond, "a"):`` records every task newly added to the flow inside the block
(``active.recording_blocks``, told by ``Flow.add_task``; parameters and constants stay
roots). When the block closes it adds one ``CompareValue`` task and makes it the upstream
of each recorded task that has no recorded upstream, so the whole block waits for the
comparison. The comparison task is added after the block closed: an enclosing ``case``
records it, which is how nested cases compose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.dag import active
from orchestrator.dag.collections import Constant
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import Task
from orchestrator.errors import FlowDefinitionError
from taskrun import signals
from taskrun.logs import task_logger
from taskrun.triggers import all_finished, not_all_skipped

if TYPE_CHECKING:
    from types import TracebackType

    from orchestrator.dag.flow import Flow


class CompareValue(Task):
    """Succeeds when its input equals ``value``; raises ``SKIP`` otherwise."""

    def __init__(self, value: Any, **kwargs: Any) -> None:
        self.value = value
        super().__init__(**kwargs)

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, value: Any) -> None:  # type: ignore[override]
        if value != self.value:
            raise signals.SKIP(
                f"Condition {self.name!r}: the result {value!r} is not {self.value!r}; "
                "skipping the branch."
            )


class Merge(Task):
    """Returns the first of its inputs ``task1 .. taskN`` that came from a branch that ran.

    Its trigger is ``not_all_skipped`` and it does not skip with its upstream, so it runs
    when some branches skipped and skips only when all did.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger", not_all_skipped)
        kwargs.setdefault("skip_on_upstream_skip", False)
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> Any:
        for key in sorted(task_results, key=_position):
            value = task_results[key]
            # a skipped branch delivers None (or, should Skipped carry it, its SKIP signal)
            if value is not None and not isinstance(value, signals.SKIP):
                return value
        return None


class AsBool(Task):
    """Returns ``bool(value)``: the condition ``ifelse`` branches on."""

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, value: Any) -> bool:  # type: ignore[override]
        return bool(value)


class FilterTask(Task):
    """Returns the items of ``task_results`` that ``filter_func`` keeps.

    Meant for the results of a mapped task whose children ended in different ways: by
    default it drops ``None`` (skipped children) and exceptions (failed children), and it
    runs once every upstream task finished (trigger ``all_finished``; it does not skip
    with its upstream). ``log_func(kept)`` may return a message to log.

    >>> FilterTask().run([1, None, ValueError("bad"), 2])
    [1, 2]
    """

    def __init__(
        self,
        filter_func: Callable[[Any], bool] | None = None,
        log_func: Callable[[list[Any]], str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger", all_finished)
        kwargs.setdefault("skip_on_upstream_skip", False)
        self.filter_func = filter_func if filter_func is not None else _is_a_value
        self.log_func = log_func
        super().__init__(**kwargs)

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, task_results: Iterable[Any]) -> list[Any]:  # type: ignore[override]
        kept = [item for item in task_results if self.filter_func(item)]
        if self.log_func is not None:
            message = self.log_func(kept)
            if message:  # the task run's logger: on Dask its records reach the console
                task_logger(self.name).info("%s", message)
        return kept


def _is_a_value(item: Any) -> bool:
    """``FilterTask``'s default: keep what is neither ``None`` nor an exception."""
    return item is not None and not isinstance(item, BaseException)


def _position(key: str) -> int:
    """``task3`` -> 3: merge's inputs in the order they were given (not "task10" < "task2")."""
    return int(key.removeprefix("task"))


class case:  # Prefect 1's lower-case name: used as ``with case(task, value):``
    """A block of tasks that run only when ``task``'s result equals ``value``.

    When they differ, the tasks created in the block end ``Skipped``, and so do their
    downstream tasks (unless those use ``merge`` or ``skip_on_upstream_skip=False``).
    Cases nest. ``task`` may be any task (a ``Parameter`` too) or a plain value.

    >>> from orchestrator import Flow, Parameter, task
    >>> @task
    ... def shout(text):
    ...     return text.upper()
    >>> with Flow("case-example") as f:
    ...     mode = Parameter("mode", default="loud")
    ...     with case(mode, "loud"):
    ...         loud = shout("hi")
    >>> f.run().result()[loud].result()
    'HI'
    >>> f.run(parameters={"mode": "quiet"}).result()[loud].is_skipped()
    True

    Raises:
        TypeError: ``value`` is a task (compare with a constant).
        ValueError: the block is entered outside ``with Flow(...)``, or twice.
    """

    kind = "case"

    def __init__(self, task: Any, value: Any) -> None:
        if isinstance(value, Task):
            raise TypeError(
                f"case({task!r}, {value!r}): the value to compare with must be a "
                "constant, not a task. To branch on two task results, write a task that "
                "compares them and use case(that_task, True)."
            )
        self.task = task
        self.value = value
        self._flow: Flow | None = None
        self._tasks: dict[Task, None] = {}  # insertion-ordered set
        self._token: Any = None
        self._entered = False

    def __repr__(self) -> str:
        return f"case({self.task!r}, {self.value!r})"

    def add_task(self, task: Task, flow: Flow) -> None:
        """Record ``task``, newly added to ``flow`` inside this block (``Flow.add_task``)."""
        if isinstance(task, (Parameter, Constant)):
            return  # roots by nature: running them costs nothing, skipping would hide values
        if flow is not self._flow:
            raise FlowDefinitionError(
                flow.name,
                f"task {task.name!r} was added inside {self!r}, which belongs to flow "
                f"{_flow_name(self._flow)!r}.",
                "Build each case block's tasks in the flow the block was opened in.",
            )
        self._tasks[task] = None

    def __enter__(self) -> case:
        self._flow = open_block(self, "with case(task, value):")
        self._token = active.recording_blocks.set(blocks_with(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        active.recording_blocks.reset(self._token)
        flow = self._flow
        if exc_type is not None or not self._tasks or flow is None:
            return
        condition = CompareValue(self.value, name=f"case({self.value})")
        condition.bind(value=self.task, flow=flow)
        recorded = self._tasks
        for child in recorded:
            if not any(upstream in recorded for upstream in flow.upstream_tasks(child)):
                flow.add_edge(condition, child)

    @property
    def tasks(self) -> list[Task]:
        """The tasks recorded in the block, in the order they were added."""
        return list(self._tasks)


def switch(
    condition: Any, cases: Mapping[Any, Task], mapped: bool = False, flow: Flow | None = None
) -> None:
    """Run only the task in ``cases`` whose key equals ``condition``'s result.

    Each task of ``cases`` gets a ``CompareValue`` upstream; the ones that do not match
    end ``Skipped``, and so do their downstream tasks (join them again with ``merge``).
    With ``mapped=True`` the comparison is made per child of a mapped ``condition``.

    >>> from orchestrator import Flow, task
    >>> @task
    ... def pick():
    ...     return "b"
    >>> @task
    ... def say(word):
    ...     return word
    >>> with Flow("switch-example") as f:
    ...     a, b = say("a"), say("b")
    ...     switch(pick(), {"a": a, "b": b})
    ...     chosen = merge(a, b)
    >>> f.run().result()[chosen].result()
    'b'
    """
    if not isinstance(cases, Mapping) or not cases:
        raise ValueError(
            f"switch({condition!r}, {cases!r}): cases must be a non-empty dict of "
            "value -> task, e.g. switch(cond, {'a': task_a, 'b': task_b})."
        )
    target = _flow_for("switch", flow, [condition, *cases.values()])
    for value, branch in cases.items():
        if not isinstance(branch, Task):
            raise TypeError(
                f"switch(): the branch for {value!r} must be a task, got {branch!r}. "
                "Wrap plain values in Constant(...)."
            )
        compare = CompareValue(value, name=f"case({value})")
        compare.bind(value=condition, mapped=mapped, flow=target)
        target.add_edge(compare, branch, mapped=mapped)


def ifelse(
    condition: Any,
    true_task: Task,
    false_task: Task,
    mapped: bool = False,
    flow: Flow | None = None,
) -> None:
    """Run ``true_task`` when ``condition``'s result is truthy, else ``false_task``.

    The other task ends ``Skipped`` (with its downstream tasks); see ``switch``.
    """
    target = _flow_for("ifelse", flow, [condition, true_task, false_task])
    truth = AsBool(name="bool").bind(value=condition, mapped=mapped, flow=target)
    switch(truth, {True: true_task, False: false_task}, mapped=mapped, flow=target)


def merge(*tasks: Any, flow: Flow | None = None, mapped: bool = False) -> Task:
    """A task returning the result of the first of ``tasks`` whose branch ran.

    "Ran" is decided as in Prefect 1: the first result that is not ``None`` (a skipped
    task delivers ``None``). It runs even when some of ``tasks`` were skipped, fails
    (``TriggerFailed``) when one failed, and is skipped when all were skipped.

    Raises:
        ValueError: no tasks given, or no flow to add the merge task to.
    """
    if not tasks:
        raise ValueError(
            "merge() needs the tasks of the branches to join, e.g. merge(branch_a, branch_b)."
        )
    target = _flow_for("merge", flow, list(tasks))
    inputs = {f"task{i}": t for i, t in enumerate(tasks, start=1)}
    return Merge(name="merge").bind(mapped=mapped, flow=target, **inputs)


# ---- shared by the blocks (case here, resources in ``resource_manager``) -------------------
def open_block(block: Any, spelling: str) -> Flow:
    """The flow being built, for ``block`` about to open; refuse a second entry or none."""
    if getattr(block, "_entered", False):
        raise ValueError(
            f"{block!r} was already used as a block; each `{spelling}` needs a new object."
        )
    block._entered = True
    flow = active.building_flow.get()
    if flow is not None:
        return flow
    in_flow_function = active.running_flow.get() is not None
    where = "it is used in a @flow function" if in_flow_function else "no Flow is being built"
    raise ValueError(
        f"`{spelling}` ({block!r}) builds tasks into a Flow, but {where}. "
        "Open it inside `with Flow('name'):`; in a @flow function, branch with a plain "
        "Python `if` on future.result()."
    )


def blocks_with(block: active.TaskRecorder) -> tuple[active.TaskRecorder, ...]:
    """The open blocks once ``block`` opens: it replaces an open block of its kind."""
    kept = [b for b in active.recording_blocks.get() if b.kind != block.kind]
    return (*kept, block)


def _flow_for(name: str, flow: Flow | None, candidates: list[Any]) -> Flow:
    """``flow``, else the flow being built, else the flow of the first task given."""
    if flow is not None:
        return flow
    building = active.building_flow.get()
    if building is not None:
        return building
    for candidate in candidates:
        ref = candidate._flow_ref if isinstance(candidate, Task) else None
        owner = ref() if ref is not None else None
        if owner is not None:
            return owner
    raise ValueError(
        f"{name}() adds tasks to a flow, but none is being built. Call it inside "
        f"`with Flow('name'):` or pass flow=..."
    )


def _flow_name(flow: Flow | None) -> str:
    return flow.name if flow is not None else "?"
