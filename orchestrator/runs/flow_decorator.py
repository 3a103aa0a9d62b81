"""``@flow``: a plain Python function whose task calls become task runs with futures.

    @flow(name="Add Projects to DB", task_runner=ConcurrentTaskRunner())
    def main(project_names, db_file="/tmp/example.db"):
        table = create_tables(db_file)
        for name in project_names:
            add_project(db_file, name, wait_for=[table])

    state = main(["orion", "critically-important"])   # blocks; returns the final State
    run = main.submit(["orion"])                       # background: a FlowRun to inspect

Arguments are checked against the function's signature before anything runs, and an
annotated parameter's value is converted to its type (``n: int`` turns ``"8"`` into ``8``
and refuses ``"abc"``; see ``dag.parameter_types``). Each call gets its own copy of the
task runner, so one flow may run several times at once.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orchestrator.dag.parameter_types import ParameterType, convert_value, signature_types
from orchestrator.dag.task_options import check_flow_max_in_flight
from orchestrator.errors import ParameterError
from orchestrator.journal.controlled_runner import JournalOption
from orchestrator.journal.function_resume import function_resume
from orchestrator.runs.flow_run import FlowRun
from orchestrator.runs.run_options import parameters_dict, refuse_unknown_keywords
from orchestrator.task_runners.base import AnyTaskRunner
from orchestrator.task_runners.choice import RunnerOption, resolve_task_runner
from orchestrator.task_runners.sequential import SequentialTaskRunner
from taskrun.states import State


class FlowParameterError(ParameterError, TypeError):
    """A ``@flow`` was called with arguments its function does not accept."""

    def __init__(self, flow_name: str, problem: str, signature: str) -> None:
        Exception.__init__(self, flow_name, problem, signature)
        self.flow_name, self.problem, self.signature = flow_name, problem, signature
        self.missing, self.unknown, self.known = [], [], []

    def __str__(self) -> str:
        return (
            f"Flow {self.flow_name!r}: {self.problem}. Its parameters are {self.signature}; "
            "pass each one by position or by name."
        )


class FlowFunction:
    """A function run as a flow: calling it runs a flow run and returns its final ``State``."""

    #: lets tools (the CLI) find flows in a module
    is_flow = True

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        task_runner: RunnerOption = None,
        journal: JournalOption = None,
        max_in_flight: int | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow needs a function, got {fn!r}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        try:
            self.signature = inspect.signature(fn)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Flow {self.name!r}: the signature of {fn!r} cannot be inspected "
                f"({err}); wrap it in a plain def function."
            ) from err
        chosen = resolve_task_runner(task_runner, self.name)
        self.task_runner: AnyTaskRunner = chosen or SequentialTaskRunner()
        #: the run journal option of its runs (``orchestrator.journal``): False for none
        self.journal = journal
        #: mapped branches alive at once in each chain of maps (``runs.function_branches``)
        self.max_in_flight = check_flow_max_in_flight(self.name, max_in_flight)
        #: the annotated parameters' types, worked out at the first call (annotations may
        #: name classes defined after the function) and shared with ``with_options`` copies
        self._types: dict[str, ParameterType] | None = None
        #: the journalled flow run this copy's runs resume (``run(resume=...)``), if any
        self._resume_id: str | None = None
        #: the paused task(s) that run resumes (``run(resume_task=...)``)
        self._resume_task: str | Sequence[str] | None = None
        functools.update_wrapper(self, fn)  # keeps __doc__, __name__, __wrapped__

    def __call__(self, *args: Any, **kwargs: Any) -> State:
        """Run the flow to the end (blocking) and return its final state."""
        return self._new_run(args, kwargs).run()

    def submit(self, *args: Any, **kwargs: Any) -> FlowRun:
        """Start a flow run in a background thread and return it at once.

        The returned ``FlowRun`` lists its ``futures`` as they are submitted (each can be
        asked ``get_state()`` while it runs); ``wait()`` gives the final state.
        """
        return self._new_run(args, kwargs).start()

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        task_runner: RunnerOption = None,
        progress: Any = False,
        journal: JournalOption = None,
        resume: str | None = None,
        resume_task: str | Sequence[str] | None = None,
        **unknown: Any,
    ) -> State:
        """Run with keyword ``parameters`` (the DAG ``Flow.run`` spelling); returns the state.

        ``progress=True`` (or a display) shows the live progress table while it runs;
        ``journal=False`` keeps the run out of the run journal; ``resume=RUN_ID`` (or
        ``"last"``) makes it the next attempt of that journalled run, with the same
        parameters: every task call whose result that run persisted re-uses it
        (``journal.function_resume``); ``resume_task=NAME`` (with ``resume=``) also resumes
        that paused task, ``"*"`` the run's only paused one.
        """
        known = ("parameters", "task_runner", "progress", "journal", "resume", "resume_task")
        refuse_unknown_keywords(self.name, "run()", unknown, known)
        if resume_task is not None and resume is None:
            raise TypeError(f"Flow {self.name!r}: run(resume_task=...) needs resume=RUN_ID.")
        values = parameters_dict(self.name, parameters)
        configured = self.with_options(task_runner=task_runner, journal=journal)
        configured._resume_id, configured._resume_task = resume, resume_task
        if progress:
            from orchestrator.progress import run_flow_function

            return run_flow_function(configured, values, progress)
        return configured(**values)

    def with_options(
        self,
        *,
        name: str | None = None,
        task_runner: RunnerOption = None,
        journal: JournalOption = None,
    ) -> FlowFunction:
        """A copy of this flow with another name, task runner or journal option."""
        copied = FlowFunction(
            self.fn,
            name=name or self.name,
            task_runner=task_runner or self.task_runner,
            journal=self.journal if journal is None else journal,
            max_in_flight=self.max_in_flight,
        )
        copied._types = self._types
        return copied

    @property
    def parameter_types(self) -> dict[str, ParameterType]:
        """The declared type of each annotated parameter, by name (built once)."""
        if self._types is None:
            self._types = signature_types(self.fn, self.signature)
        return self._types

    def validate_parameters(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> inspect.BoundArguments:
        """The call's arguments bound to the function's signature (defaults applied), each
        given one converted to its annotated type.

        Raises:
            FlowParameterError: an argument is missing, unknown or given twice.
            ParameterTypeError: a value does not fit its parameter's annotation.
        """
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as err:
            shown = f"{getattr(self.fn, '__name__', 'flow')}{self.signature}"
            raise FlowParameterError(self.name, str(err), shown) from None
        types = self.parameter_types
        for name in [n for n in bound.arguments if n in types]:  # given ones, not defaults
            bound.arguments[name] = convert_value(
                self.name, name, types[name], bound.arguments[name]
            )
        bound.apply_defaults()
        return bound

    def _new_run(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> FlowRun:
        bound = self.validate_parameters(args, kwargs)
        runner = copy.copy(self.task_runner)  # a fresh, unstarted runner per run
        resume = None
        if self._resume_id is not None:
            journal = self.journal if not isinstance(self.journal, bool | None) else None
            resume = function_resume(
                journal, self.name, self._resume_id, bound.arguments, self._resume_task
            )
        return FlowRun(
            self.name, self.fn, bound.args, bound.kwargs, runner, dict(bound.arguments),
            self.journal, resume, self.max_in_flight,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<Flow function: {self.name}>"


def flow(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    task_runner: RunnerOption = None,
    journal: JournalOption = None,
    max_in_flight: int | None = None,
) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(name=..., task_runner=..., journal=...)``.

    ``journal=False`` keeps its runs out of the run journal (``orchestrator runs``);
    ``max_in_flight=k`` runs each chain of maps branch by branch, at most ``k`` alive
    (``runs.function_branches``; ``@task(max_in_flight=k)`` bounds the chains it starts).

    >>> from orchestrator import task
    >>> @task
    ... def add(x, y):
    ...     return x + y
    >>> @flow(name="Adder")
    ... def adder(a):
    ...     return add(a, 1)
    >>> state = adder(1)
    >>> state, state.result()
    (Completed(message=None, type=COMPLETED), 2)
    """
    if fn is None:
        return functools.partial(
            flow, name=name, task_runner=task_runner, journal=journal, max_in_flight=max_in_flight
        )
    return FlowFunction(
        fn, name=name, task_runner=task_runner, journal=journal, max_in_flight=max_in_flight
    )
