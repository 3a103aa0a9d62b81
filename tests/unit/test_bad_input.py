"""Each common mistake gets a clear error at the earliest moment: naming the task, flow,
parameter or option, saying what is wrong and what to write instead."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import threading

import pytest

from orchestrator import Constant, Flow, Parameter, Task, context, flow, task
from orchestrator.engine.state import Resume, Success
from orchestrator.errors import (
    FlowDefinitionError,
    ParameterError,
    RunOptionError,
    TaskDefinitionError,
)
from orchestrator.runs.flow_runner import FlowRunner
from orchestrator.task_runners import (
    BaseTaskRunner,
    ConcurrentTaskRunner,
    DaskTaskRunner,
    SequentialTaskRunner,
)
from orchestrator.task_runners.choice import resolve_task_runner
from orchestrator.task_runners.dask.cluster_options import ClusterOptionError


@task
def add(x, y):
    return x + y


@task
def one():
    return 1


def small_flow() -> tuple[Flow, Task]:
    with Flow("small") as f:
        total = add(one(), 2)
    return f, total


# ---- 1. parameters that are not a mapping --------------------------------------------------------
def test_parameters_given_as_a_list_name_the_flow_and_the_mapping_to_write() -> None:
    with Flow("etl") as f:
        add(Parameter("x"), 1)
    with pytest.raises(
        RunOptionError,
        match=r"Flow 'etl': parameters=\['x', 1\] is a list, not a mapping of parameter names "
        r"to values\. Pass parameters=\{'name': value",
    ):
        f.run(parameters=["x", 1])
    with pytest.raises(RunOptionError, match=r"Flow 'etl': parameters=\['x'\] is a list"):
        f.run(["x"])


def test_an_at_flow_run_with_parameters_as_a_list_is_refused_the_same_way() -> None:
    @flow
    def adder(x):
        return add(x, 1)

    with pytest.raises(RunOptionError, match=r"Flow 'adder': parameters=\[1\] is a list"):
        adder.run([1])


def test_a_misspelt_parameter_gets_a_did_you_mean() -> None:
    with Flow("etl") as f:
        add(Parameter("limit"), 1)
    with pytest.raises(ParameterError, match=r"unknown parameters 'limt'\. Did you mean 'limit'\?"):
        f.run(parameters={"limit": 1, "limt": 2})


# ---- 2. a run() argument named like a call keyword -----------------------------------------------
def test_a_run_argument_named_wait_for_is_refused_at_task_creation() -> None:
    def waits(wait_for):
        return wait_for

    with pytest.raises(
        TaskDefinitionError,
        match=r"Task 'waits': argument 'wait_for' is reserved: a task call takes wait_for= "
        r"itself .* Rename it, e.g. to wait_for_value",
    ):
        task(waits)


# ---- 3. handlers that cannot be called ----------------------------------------------------------
def test_a_non_callable_on_failure_is_refused_at_task_creation() -> None:
    with pytest.raises(
        TaskDefinitionError,
        match=r"Task 'noop': on_failure='log' is not callable\. Pass a function "
        r"on_failure\(task, state\)",
    ):
        task(name="noop", on_failure="log")(lambda: None)


@pytest.mark.parametrize(
    ("handlers", "message"),
    [
        (["not a function"], r"state_handlers contains non-callables \['not a function'\]"),
        (print, r"state_handlers=<built-in function print> is a single function.*\[print\]"),
        (3, r"state_handlers=3 is not a list of functions"),
        (
            [lambda task, new: new],
            r"state_handlers <lambda>\(task, new\) cannot be called as "
            r"handler\(task, old_state, new_state\)",
        ),
    ],
)
def test_state_handlers_that_cannot_be_called_as_handlers_are_refused(handlers, message) -> None:
    with pytest.raises(TaskDefinitionError, match=rf"Task 'Task': {message}"):
        Task(state_handlers=handlers)


def test_an_on_failure_taking_the_wrong_arguments_and_a_non_callable_trigger_are_refused() -> None:
    def on_failure(state):
        return None

    with pytest.raises(TaskDefinitionError, match=r"on_failure on_failure\(state\) cannot be"):
        Task(on_failure=on_failure)
    with pytest.raises(TaskDefinitionError, match=r"trigger='all' is not callable"):
        Task(trigger="all")
    with pytest.raises(TaskDefinitionError, match=r"Task 'Task': on_failure=1 is not callable"):
        Task().copy(on_failure=1)


# ---- 4. retries and timeouts ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_delay": -1}, r"retry_delay=-1 seconds is negative\. Pass a delay >= 0"),
        ({"retry_delay": dt.timedelta(seconds=-5)}, r"retry_delay=-5 seconds is negative"),
        ({"retry_delay": float("nan")}, r"retry_delay=nan is not a finite number of seconds"),
        ({"max_retries": -1, "retry_delay": 0}, r"max_retries=-1 is not a count >= 0"),
        ({"max_retries": "3", "retry_delay": 0}, r"max_retries='3' is not a count >= 0"),
        ({"max_retries": True, "retry_delay": 0}, r"max_retries=True is not a count >= 0"),
        ({"timeout": 0}, r"timeout=0 is not a positive number of seconds"),
        ({"timeout": float("nan")}, r"timeout=nan is not a positive number"),
    ],
)
def test_bad_retry_and_timeout_options_are_refused_at_task_creation(options, message) -> None:
    with pytest.raises(TaskDefinitionError, match=rf"Task 'flaky': {message}"):
        task(name="flaky", **options)(lambda: None)


def test_a_negative_retry_delay_given_to_a_copy_is_refused_too() -> None:
    with pytest.raises(TaskDefinitionError, match=r"Task 'Task': retry_delay=.* is negative"):
        Task(max_retries=1, retry_delay=1).copy(retry_delay=-1)


# ---- 5. a Flow passed as a task argument ---------------------------------------------------------
def test_a_flow_passed_as_an_argument_is_refused_at_the_call_naming_task_and_argument() -> None:
    inner, _ = small_flow()
    with (
        Flow("outer"),
        pytest.raises(
            FlowDefinitionError,
            match=r"Flow 'outer': task 'add' got the Flow 'small' as argument 'y'.*call its tasks "
            r"here.*use a Parameter",
        ),
    ):
        add(1, inner)


def test_a_flow_inside_a_list_or_bound_imperatively_is_refused_too() -> None:
    inner, _ = small_flow()
    with Flow("outer"), pytest.raises(FlowDefinitionError, match=r"as argument 'arg_1'"):
        add(1, [2, inner])
    outer = Flow("outer")
    with pytest.raises(
        FlowDefinitionError, match=r"task 'add' got the Flow 'small' as argument 'x'"
    ):
        outer.set_dependencies(add.copy(), keyword_tasks={"x": inner, "y": 1})


def test_a_flow_as_a_constant_task_is_allowed_when_the_task_takes_flows() -> None:
    inner, _ = small_flow()
    with Flow("outer") as outer:
        named = add(Constant(inner), "")
    with pytest.raises(TypeError):  # Flow + "" : the body ran with the flow itself
        outer.run().result()[named].result()


def test_a_flow_passed_to_a_task_inside_a_running_at_flow_is_refused() -> None:
    inner, _ = small_flow()

    @flow
    def runs_tasks():
        return add(inner, 1)

    state = runs_tasks()  # the call raises in the body: the flow run fails with that error
    with pytest.raises(
        FlowDefinitionError, match=r"Flow 'runs_tasks': task 'add' got the Flow 'small' as argument"
    ):
        state.result()


# ---- 6. required arguments never bound -----------------------------------------------------------
def test_a_task_missing_a_required_argument_is_refused_before_the_run_naming_it() -> None:
    ran = []
    with Flow("partial", state_handlers=[lambda f, old, new: ran.append(new) or new]) as f:
        add(x=1)
    with pytest.raises(
        FlowDefinitionError,
        match=r"Flow 'partial': task 'add' is missing required arguments 'y'; its run\(\) "
        r"signature is \(x, y\)\. Pass each when calling the task \(add\(y=\.\.\.\)\), or "
        r"bind it before the run: task\.set_upstream\(other_task, key='y'\)",
    ):
        f.run()
    assert ran == [], "refused before the flow's state handlers saw a transition"
    with pytest.raises(FlowDefinitionError, match=r"missing required arguments 'y'"):
        f.validate()


def test_arguments_bound_after_the_call_by_the_imperative_api_count_as_bound() -> None:
    with Flow("later") as f:
        total = add(x=1)
        two = Constant(2)
    total.set_upstream(two, key="y")
    assert f.run().result()[total].result() == 3

    g = Flow("imperative")
    adder = add.copy()
    g.add_task(adder)
    g.add_edge(Constant(5), adder, key="x")
    with pytest.raises(FlowDefinitionError, match=r"task 'add' is missing required arguments 'y'"):
        g.validate()
    adder.bind(y=1, flow=g)
    assert g.run().result()[adder].result() == 6


def test_several_tasks_missing_arguments_are_all_named() -> None:
    with Flow("gaps") as f:
        add(x=1)
        add.copy(name="second")()
    with pytest.raises(
        FlowDefinitionError, match=r"task 'add' is missing.*Also: 'second' \(missing 'x', 'y'\)"
    ):
        f.validate()


# ---- 7. unknown keywords of run() ----------------------------------------------------------------
def test_a_misspelt_run_keyword_gets_a_did_you_mean() -> None:
    f, _ = small_flow()
    with pytest.raises(
        RunOptionError,
        match=r"Flow 'small': run\(\) got an unknown keyword argument 'paramters'\. Did you "
        r"mean 'parameters'\? It takes: parameters, task_runner, context",
    ):
        f.run(paramters={})
    with pytest.raises(RunOptionError, match=r"'task_runer'\. Did you mean 'task_runner'\?"):
        FlowRunner(flow=f).run(task_runer="sequential")


def test_an_at_flow_run_with_a_misspelt_keyword_gets_a_did_you_mean() -> None:
    @flow
    def plain():
        return None

    with pytest.raises(RunOptionError, match=r"'progres'\. Did you mean 'progress'\?"):
        plain.run(progres=True)


# ---- 8. task runners by class or name ------------------------------------------------------------
@pytest.mark.parametrize("option", ["sequential", "Concurrent", ConcurrentTaskRunner])
def test_a_task_runner_may_be_a_name_or_a_class(option) -> None:
    f, total = small_flow()
    assert f.run(task_runner=option).result()[total].result() == 3


def test_the_names_and_classes_resolve_to_fresh_runners_and_dask_by_name() -> None:
    assert isinstance(resolve_task_runner("SEQUENTIAL", "f"), SequentialTaskRunner)
    assert isinstance(resolve_task_runner(" dask ", "f"), DaskTaskRunner)
    assert isinstance(resolve_task_runner(DaskTaskRunner, "f"), DaskTaskRunner)

    @flow(task_runner="concurrent")
    def threaded():
        return add(1, 2)

    assert isinstance(threaded.task_runner, ConcurrentTaskRunner)
    assert threaded().result() == 3


def test_an_unknown_task_runner_lists_what_is_accepted() -> None:
    f, _ = small_flow()
    with pytest.raises(
        RunOptionError,
        match=r"Flow 'small': task_runner='dsak' is not a task runner name\. Did you mean "
        r"'dask'\? Pass a task runner such as SequentialTaskRunner\(\).*a task-runner class.*"
        r"'sequential', 'concurrent', 'dask'",
    ):
        f.run(task_runner="dsak")
    with pytest.raises(RunOptionError, match=r"task_runner=42 \(a int\) is not a task runner"):
        f.run(task_runner=42)


def test_a_task_runner_class_that_needs_arguments_asks_for_an_instance() -> None:
    class NeedsPool(SequentialTaskRunner):
        def __init__(self, pool: int) -> None:
            super().__init__()

    f, _ = small_flow()
    with pytest.raises(
        RunOptionError, match=r"task_runner=NeedsPool \(the class\) cannot be made without"
    ):
        f.run(task_runner=NeedsPool)
    assert issubclass(NeedsPool, BaseTaskRunner)


def test_choosing_a_runner_by_name_imports_dask_only_for_dask() -> None:
    code = (
        "import sys\n"
        "from orchestrator.task_runners.choice import resolve_task_runner\n"
        "resolve_task_runner('sequential', 'f'); resolve_task_runner('concurrent', 'f')\n"
        "print('distributed' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


# ---- 9. task_states, start_tasks and return_tasks ------------------------------------------------
def test_task_states_for_a_task_not_in_the_flow_is_refused() -> None:
    f, _ = small_flow()
    stranger = Task(name="stranger")
    with pytest.raises(
        RunOptionError,
        match=r"Flow 'small': task_states names task 'stranger', which is not in the flow\. "
        r"The flow's tasks are: 'add', 'one'",
    ):
        f.run(task_states={stranger: Success(result=1)})


def test_task_states_keyed_by_a_task_template_points_at_the_copy() -> None:
    f, _ = small_flow()
    with pytest.raises(
        RunOptionError,
        match=r"task_states names task 'add', which is not in the flow\. The flow holds a copy "
        r"of it .* flow\.get_tasks\('add'\)",
    ):
        f.run(task_states={add: Success(result=1)})
    with pytest.raises(
        RunOptionError,
        match=r"task_states holds 'add', which is not a task\. .*flow\.get_tasks\('add'\)\[0\]",
    ):
        f.run(task_states={"add": Success(result=1)})


def test_a_task_state_that_is_not_a_state_is_refused() -> None:
    f, total = small_flow()
    with pytest.raises(
        RunOptionError,
        match=r"task_states\[<Task: add>\] is 3 \(a int\), not a State\. Give each task a "
        r"state, e.g\. Success\(result=\.\.\.\), or Resume\(\)",
    ):
        f.run(task_states={total: 3})


def test_start_and_return_tasks_must_be_lists_of_tasks_in_the_flow() -> None:
    f, total = small_flow()
    stranger = Task(name="adder")
    with pytest.raises(RunOptionError, match=r"start_tasks names task 'adder'.*Did you mean 'add'"):
        f.run(start_tasks=[stranger])
    with pytest.raises(RunOptionError, match=r"return_tasks names task 'adder', which is not"):
        f.run(return_tasks=[total, stranger])
    with pytest.raises(
        RunOptionError,
        match=r"start_tasks=<Task: add> is not a list of tasks.*start_tasks=\[task\]",
    ):
        f.run(start_tasks=total, task_states={total: Resume()})
    state = f.run(return_tasks=[total])
    assert list(state.result()) == [total]


# ---- 10. context keys ----------------------------------------------------------------------------
def test_a_run_context_with_a_non_string_key_is_refused() -> None:
    f, _ = small_flow()
    with pytest.raises(
        RunOptionError, match=r"Flow 'small': context keys must be strings; got \[1\]\. Tasks read"
    ):
        f.run(context={1: 2})
    with pytest.raises(RunOptionError, match=r"context=\['a'\] is a list, not a mapping"):
        f.run(context=["a"])


def test_a_context_block_with_a_non_string_key_is_refused_at_the_call() -> None:
    with pytest.raises(TypeError, match=r"context keys must be strings .*got \[1\]"):
        context({1: 2})
    with pytest.raises(TypeError, match=r"context\(\.\.\.\) takes mappings and keywords, got 5"):
        context(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"keywords must be strings"):  # Python's own check
        context(**{1: 2})  # type: ignore[misc]
    with context({"a": 1}):
        assert context.a == 1


# ---- 11. DaskTaskRunner cluster options ----------------------------------------------------------
def test_a_cluster_class_import_path_naming_nothing_is_refused_at_construction() -> None:
    with pytest.raises(
        ClusterOptionError,
        match=r"cluster_class: 'distributed.NoSuchCluster': module 'distributed' has no "
        r"'NoSuchCluster'\..*Its cluster classes are: LocalCluster",
    ):
        DaskTaskRunner(cluster_class="distributed.NoSuchCluster")
    with pytest.raises(ClusterOptionError, match=r"Did you mean distributed\.LocalCluster\?"):
        DaskTaskRunner(cluster_class="distributed.LocalClustr")
    with pytest.raises(ClusterOptionError, match=r"module 'no_such_package' cannot be imported"):
        DaskTaskRunner(cluster_class="no_such_package.Cluster")


def test_a_misspelt_cluster_kwarg_is_refused_at_construction_with_a_did_you_mean() -> None:
    with pytest.raises(
        ClusterOptionError,
        match=r"cluster_kwargs: LocalCluster takes no keyword argument 'n_worker'\. Did you "
        r"mean 'n_workers'\?",
    ):
        DaskTaskRunner(cluster_kwargs={"n_worker": 2})
    with pytest.raises(ClusterOptionError, match=r"'memory_limt'\. Did you mean 'memory_limit'"):
        DaskTaskRunner(cluster_kwargs={"n_workers": 1, "memory_limt": "1GB"})


def test_cluster_kwargs_that_reach_the_workers_are_accepted() -> None:
    options = {
        "n_workers": 1, "processes": False, "memory_limit": "1GB", "resources": {"GPU": 1},
        "nthreads": 1, "death_timeout": 5, "env": {"A": "1"},
    }  # fmt: skip
    assert DaskTaskRunner(cluster_kwargs=options).cluster_kwargs == options


# ---- 13. pickling failures on Dask ---------------------------------------------------------------
class _Collected(logging.Handler):
    """The records of one logger tree, kept here rather than read from ``caplog``: pytest
    also attaches its capture handler to non-propagating loggers such as ``distributed``,
    whose ``LocalCluster`` raises that handler's level to WARNING while it runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_unpicklable_argument_on_dask_logs_its_message_not_pickles_traceback() -> None:
    runner = DaskTaskRunner(
        cluster_kwargs={"n_workers": 1, "processes": False, "dashboard_address": ":0"}
    )

    @flow(task_runner=runner)
    def locks():
        return add(threading.Lock(), 1)

    tree = logging.getLogger("orchestrator")
    collected, level = _Collected(), tree.level
    tree.addHandler(collected)
    tree.setLevel(logging.DEBUG)
    try:
        state = locks()
    finally:
        tree.removeHandler(collected)
        tree.setLevel(level)
    error = state.result(raise_on_failure=False)
    assert "argument 'x' (a lock) cannot be pickled" in str(error)
    assert error.__traceback__ is None
    assert error.__cause__ is None
    reported = [r for r in collected.records if r.levelno >= logging.ERROR and r.exc_info]
    assert reported, "the failed task run is reported with its error"
    for record in reported:
        text = logging.Formatter().formatException(record.exc_info)
        assert len(text.splitlines()) == 1
        assert "cannot be pickled" in text
    debug = [r.getMessage() for r in collected.records if r.levelno == logging.DEBUG]
    assert any("cannot be shipped" in m and "Traceback" in m for m in debug)
