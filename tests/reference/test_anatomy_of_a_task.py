"""Every example of ``reference/anatomy-of-a-task.md``, with ``prefect`` -> ``orchestrator``.

The one documented deviation: a state's result is the method ``state.result()``. On a
failed state ``result()`` re-raises, so code that only looks at the error (the
TaskRunner example, the notification handler) reads it with
``result(raise_on_failure=False)``. Examples that call the network or a cloud client use
a local stand-in with the same shape; each such place says so.
"""

from __future__ import annotations

import logging
import threading

import cloudpickle
import pytest

import orchestrator
from orchestrator import Flow, Parameter, Task, task, unmapped
from orchestrator.core import Edge
from orchestrator.engine import TaskRunner
from orchestrator.engine.state import Failed, Mapped, Success, TriggerFailed
from orchestrator.errors import TaskDefinitionError
from orchestrator.tasks.core.constants import Constant
from taskrun.context import reload_config


@pytest.fixture(autouse=True)
def _isolated_config_layer():
    """The config layer is read at import time; re-read it now that the root conftest points
    $ORCHESTRATOR_CONFIG at a missing file, so a developer's config cannot leak in."""
    reload_config()
    yield
    reload_config()


def names(tasks):
    """The reprs of a set of tasks, sorted: the doc prints sets, whose order means nothing."""
    return sorted(repr(t) for t in tasks)


# ---- The Basics --------------------------------------------------------------------------------
class AddTask(Task):
    def run(self, x, y):
        return x + y


def test_subclassing_task_gives_a_task_named_add():
    add_task = AddTask(name="Add")
    assert repr(add_task) == "<Task: Add>"
    assert isinstance(add_task, Task)


@task(name="Add")
def add_task(x, y):
    return x + y


def test_the_task_decorator_gives_an_equivalent_task_named_add():
    assert repr(add_task) == "<Task: Add>"
    assert isinstance(add_task, Task)


def test_the_decorator_uses_the_function_name_when_no_name_is_given():
    @task
    def number_task():
        return 42

    assert repr(number_task) == "<Task: number_task>"


# ---- Call signatures cannot be arbitrary ---------------------------------------------------------
def test_star_args_are_rejected_at_task_creation_naming_the_task():
    with pytest.raises(TaskDefinitionError, match=r"Task 'positional': run\(\) takes \*args"):

        @task
        def positional(*args):
            return args


def test_star_args_are_rejected_for_task_subclasses_too():
    class Positional(Task):
        def run(self, *values):
            return values

    with pytest.raises(TaskDefinitionError, match=r"Task 'Positional': run\(\) takes \*values"):
        Positional()


@pytest.mark.parametrize("keyword", ["upstream_tasks", "mapped", "task_args", "flow"])
def test_reserved_keywords_are_rejected_at_task_creation(keyword):
    namespace: dict[str, object] = {}
    exec(f"def uses_reserved({keyword}):\n    return {keyword}\n", namespace)
    with pytest.raises(
        TaskDefinitionError, match=rf"Task 'uses_reserved': argument '{keyword}' is reserved"
    ):
        task(namespace["uses_reserved"])


def test_builtins_cannot_be_inspected_and_the_error_shows_the_wrapper_fix():
    with pytest.raises(TaskDefinitionError) as info:
        task(bool)
    message = str(info.value)
    assert message.startswith("Task 'bool': the signature of <class 'bool'> cannot be inspected")
    assert "@task\n    def my_bool(x):\n        return bool(x)" in message


@task
def orchestrator_bool(x):
    """
    `orchestrator.task(bool)` doesn't work because `bool` is
    a `builtin`, but this wrapper function gets around the restriction.
    """
    return bool(x)


def test_the_wrapper_task_around_a_builtin_works():
    assert orchestrator_bool.run(1) is True
    with Flow("wrapped builtin") as flow:
        result = orchestrator_bool(x=[])
    assert flow.run().result()[result].result() is False


# ---- Context -------------------------------------------------------------------------------------
@orchestrator.task
def log_hello():
    logger = orchestrator.context["logger"]
    logger.info("Hello!")


def test_the_context_logger_logs_from_inside_a_flow_run(caplog):
    caplog.set_level(logging.INFO)
    with Flow("hello") as flow:
        log_hello()
    assert flow.run().is_successful()
    hello = [r for r in caplog.records if r.getMessage() == "Hello!"]
    assert len(hello) == 1
    assert hello[0].name == "orchestrator.Task: log_hello"


def test_context_is_only_populated_within_a_flow_run_and_get_is_graceful():
    assert orchestrator.context.get("logger") is None
    assert orchestrator.context.get("task_name", "not running") == "not running"
    with pytest.raises(KeyError):
        log_hello.run()


# ---- Running Tasks -----------------------------------------------------------------------------
def test_calling_the_run_method_runs_the_body():
    assert add_task.run(1, 2) == 3
    assert add_task.run(x=5, y=-10) == -5
    assert add_task.run(x=[1, 2], y=[3, 4]) == [1, 2, 3, 4]


@task
def number_task():
    return 42


def test_a_task_runner_returns_a_success_state_holding_the_return_value():
    runner = TaskRunner(task=number_task)
    state = runner.run()

    assert state.is_successful()
    assert state.result() == 42
    assert isinstance(state, Success)


def test_a_task_runner_with_a_failed_upstream_gives_trigger_failed_holding_an_exception():
    runner = TaskRunner(task=number_task)
    # the base Task class provides a useful stand-in for a no-op Task
    upstream_edge = Edge(Task(), number_task)
    upstream_state = Failed(message="Failed for some reason")

    state = runner.run(upstream_states={upstream_edge: upstream_state})

    # our Task run is in a TriggerFailed state
    # and its corresponding result is the exception that was caught
    assert state.is_failed()
    assert isinstance(state, TriggerFailed)
    assert isinstance(state.result(raise_on_failure=False), Exception)
    with pytest.raises(Exception, match="trigger did not pass"):
        state.result()


# ---- Task Inputs and Outputs -------------------------------------------------------------------
def test_cloudpickle_round_trips_none():
    assert isinstance(cloudpickle.dumps(None), bytes)
    obj = cloudpickle.loads(cloudpickle.dumps(None))
    assert obj is None


def test_cloudpickle_cannot_pickle_a_generator():
    custom_generator = (x for x in range(5))
    with pytest.raises(TypeError, match=r"pickle.*generator"):
        cloudpickle.dumps(custom_generator)


def test_tasks_themselves_round_trip_through_cloudpickle():
    restored = cloudpickle.loads(cloudpickle.dumps(add_task))
    assert restored.run(1, 2) == 3
    assert repr(restored) == "<Task: Add>"


# ---- Adding Tasks to Flows ---------------------------------------------------------------------
def test_the_imperative_api_adds_the_task_itself():
    f = Flow("example")
    f.add_task(number_task)

    assert str(f.tasks) == "{<Task: number_task>}"
    assert number_task in f.tasks


def test_the_functional_api_adds_a_copy_of_a_called_task():
    with Flow("example-v2") as f:
        result = number_task()

    assert str(f.tasks) == "{<Task: number_task>}"
    assert (number_task in f.tasks) is False
    assert (result in f.tasks) is True
    assert f.run().result()[result].result() == 42


def test_task_args_override_attributes_of_the_copy():
    with Flow("example-v3") as f:
        result = number_task(task_args={"name": "new-name"})

    assert str(f.tasks) == "{<Task: new-name>}"
    assert number_task.name == "number_task"  # the original is untouched
    assert result.name == "new-name"


def test_set_dependencies_with_constant_keyword_tasks_adds_only_the_task():
    f = Flow("add-example")

    f.set_dependencies(add_task, keyword_tasks={"x": 1, "y": 2})
    # the document prints the variable name; the task is named "Add" where it is defined
    assert str(f.tasks) == "{<Task: Add>}"
    assert f.run().result()[add_task].result() == 3


def test_the_functional_api_reproduces_the_set_dependencies_example_with_a_copy():
    with Flow("add-example-v2") as f:
        result = add_task(x=1, y=2)

    assert str(f.tasks) == "{<Task: Add>}"
    assert (add_task in f.tasks) is False
    assert (result in f.tasks) is True
    assert f.run().result()[result].result() == 3


@task
def do_nothing(arg):
    pass


def test_python_collections_become_collection_tasks():
    with Flow("constants") as flow:
        do_nothing({"x": 1, "y": [9, 10]})

    assert names(flow.tasks) == sorted(
        ["<Task: Dict>", "<Task: List>", "<Task: List>", "<Task: List>", "<Task: do_nothing>"]
    )
    results = {repr(t): [] for t in flow.tasks}
    for t, state in flow.run().result().items():
        results[repr(t)].append(state.result())
    assert sorted(results["<Task: List>"], key=repr) == sorted(
        [[9, 10], ["x", "y"], [1, [9, 10]]], key=repr
    )  # [9, 10], the keys, the values
    assert results["<Task: Dict>"] == [{"x": 1, "y": [9, 10]}]


def test_constant_stops_the_auto_generation_of_collection_tasks():
    with Flow("constants") as flow:
        do_nothing(Constant({"x": 1, "y": [9, 10]}))

    assert names(flow.tasks) == ["<Task: Constant[dict]>", "<Task: do_nothing>"]
    assert orchestrator.Constant is Constant


def test_collection_tasks_deliver_the_collection_to_the_task():
    @task
    def echo(arg):
        return arg

    with Flow("collections") as flow:
        result = echo({"x": 1, "y": [9, 10]})
        constant = echo(Constant({"x": 1, "y": [9, 10]}))
    states = flow.run().result()
    assert states[result].result() == {"x": 1, "y": [9, 10]}
    assert states[constant].result() == {"x": 1, "y": [9, 10]}


def test_parameters_are_added_to_the_flow_as_they_are():
    with Flow("add-example-v3") as f:
        # we will instantiate these Parameters here
        # but note that does NOT add them to the flow yet
        x = Parameter("x", default=1)
        y = Parameter("y", default=2)
        assert f.tasks == set()

        result = add_task(x=x, y=y)  # <-- the moment at which x, y are added to the Flow

    assert names(f.tasks) == ["<Parameter: x>", "<Parameter: y>", "<Task: Add>"]

    assert (add_task in f.tasks) is False
    assert (result in f.tasks) is True

    assert (x in f.tasks) is True
    assert (y in f.tasks) is True

    assert f.run().result()[result].result() == 3
    assert f.run(parameters={"x": 10}).result()[result].result() == 12


def test_upstream_tasks_add_a_dependency_that_exchanges_no_data():
    order = []

    @task(name="A")
    def task_A():
        # does something interesting and stateful
        order.append("A")

    @task(name="B")
    def task_B():
        # also does something interesting and stateful
        order.append("B")

    with Flow("functional-example") as flow:
        result = task_B(upstream_tasks=[task_A])

    assert names(flow.tasks) == ["<Task: A>", "<Task: B>"]
    assert task_A in flow.tasks  # upstream tasks are added as they are
    (edge,) = flow.edges
    assert (edge.upstream_task, edge.downstream_task, edge.key) == (task_A, result, None)
    assert flow.run().is_successful()
    assert order == ["A", "B"]


# ---- Mapping -----------------------------------------------------------------------------------
@task
def add_one(x):
    """Operates one number at a time"""
    return x + 1


@task(name="sum")
def sum_numbers(y):
    """Operates on an iterable of numbers"""
    result = sum(y)
    logger = orchestrator.context["logger"]
    logger.info("The sum is {}".format(result))  # noqa: UP032 - as the document writes it
    return result


def assert_logged_the_sum_is_14(caplog):
    lines = [r for r in caplog.records if r.getMessage() == "The sum is 14"]
    assert len(lines) == 1
    assert lines[0].levelname == "INFO"
    assert lines[0].name.startswith("orchestrator.Task")


def test_map_reduce_with_the_imperative_api_logs_the_sum_is_14(caplog):
    caplog.set_level(logging.INFO)
    ## Imperative API
    flow = Flow("Map Reduce")
    flow.set_dependencies(add_one, keyword_tasks={"x": [1, 2, 3, 4]}, mapped=True)
    flow.set_dependencies(sum_numbers, keyword_tasks={"y": add_one})

    state = flow.run()
    assert state.is_successful()
    assert_logged_the_sum_is_14(caplog)
    assert isinstance(state.result()[add_one], Mapped)
    assert state.result()[add_one].result() == [2, 3, 4, 5]
    assert state.result()[sum_numbers].result() == 14


def test_map_reduce_with_the_functional_api_logs_the_sum_is_14(caplog):
    caplog.set_level(logging.INFO)
    ## Functional API
    with Flow("Map Reduce") as flow:
        mapped_result = add_one.map(x=[1, 2, 3, 4])
        summed_result = sum_numbers(mapped_result)

    state = flow.run()
    assert state.is_successful()
    assert_logged_the_sum_is_14(caplog)
    assert [child.result() for child in state.result()[mapped_result].map_states] == [2, 3, 4, 5]
    assert state.result()[summed_result].result() == 14


def test_each_mapped_child_is_a_first_class_task_that_can_fail_on_its_own():
    @task
    def invert(x):
        return 1 / x

    with Flow("children") as flow:
        inverted = invert.map(x=[1, 0, 2])
    children = flow.run().result()[inverted].map_states
    assert [type(c) for c in children] == [Success, Failed, Success]
    assert children[2].result() == 0.5


def test_unmapped_keeps_an_argument_fixed():
    @task
    def add_one(x, y):
        """Operates one number at a time"""
        return x + y

    with Flow("unmapped example") as flow:
        result = add_one.map(x=[1, 2, 3], y=unmapped(5))

    assert flow.run().result()[result].result() == [6, 7, 8]


@task
def return_list():
    return [1, 2, 3, 4]


@task
def print_hello():
    print("=" * 30)
    print("HELLO")
    print("=" * 30)


def test_mapping_over_upstream_tasks_prints_hello_four_times(capsys):
    with Flow("print-example") as flow:
        result = print_hello.map(upstream_tasks=[return_list])

    state = flow.run()
    assert state.is_successful()
    assert capsys.readouterr().out.splitlines().count("HELLO") == 4
    assert len(state.result()[result].map_states) == 4


def test_mapping_over_an_empty_list_creates_no_children_and_succeeds(capsys):
    @task
    def return_list():
        return []

    with Flow("print-example") as flow:
        result = print_hello.map(upstream_tasks=[return_list])

    state = flow.run()
    assert state.is_successful()
    parent = state.result()[result]
    assert parent.is_successful()
    assert parent.is_mapped()
    assert parent.map_states == []
    assert parent.result() == []
    assert "HELLO" not in capsys.readouterr().out


def test_mapped_children_keep_the_order_of_the_input_in_their_map_index():
    @task
    def where(x):
        return (orchestrator.context.map_index, x)

    with Flow("order") as flow:
        result = where.map(x=["c", "a", "b"])
    assert flow.run().result()[result].result() == [(0, "c"), (1, "a"), (2, "b")]


# ---- Best Practices in Writing Tasks -----------------------------------------------------------
class Client:
    """Stand-in for ``bigquery.Client()``: holds a lock, so it cannot be serialized."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def query(self, query: str) -> str:
        return f"ran {query}"


def test_a_task_holding_an_unserializable_client_cannot_be_cloudpickled():
    class BigQuery(Task):
        def __init__(self, *args, **kwargs):
            self.client = Client()  # <-- not serializable
            super().__init__(*args, **kwargs)

        def run(self, query: str):
            self.client.query(query)

    with pytest.raises(TypeError, match="pickle"):
        cloudpickle.dumps(BigQuery())


def test_creating_the_client_inside_run_keeps_the_task_serializable():
    class BigQuery(Task):
        def run(self, query: str):
            return Client().query(query)

    restored = cloudpickle.loads(cloudpickle.dumps(BigQuery()))
    assert restored.run("SELECT 1") == "ran SELECT 1"


class Bad(Task):
    def __init__(self, *args, **kwargs):
        self.run_count = 0
        super().__init__(*args, **kwargs)

    def run(self):
        self.run_count += 1
        return self.run_count


def test_a_stateful_task_attribute_leaks_between_runs():
    bad = Bad()
    assert bad.run() == 1
    assert bad.run() == 2  # not a fresh count: the attribute is shared state

    with Flow("stateful") as flow:
        counted = bad()
    first = flow.run().result()[counted].result()
    second = flow.run().result()[counted].result()
    assert (first, second) == (3, 4)  # in-process, runs keep mutating the same task copy
    # on a Dask worker every run gets a freshly unpickled copy instead: the count would not leak
    assert cloudpickle.loads(cloudpickle.dumps(counted)).run() == 5


global_state: dict[str, list[int]] = {"info": []}


@task
def task_one():
    global_state["info"].append(1)


@task
def task_two():
    global_state["info"].append(2)


def test_relying_on_global_state_only_works_when_tasks_share_a_process():
    global_state["info"].clear()
    with Flow("global state") as flow:
        task_one()
        task_two()
    assert flow.run().is_successful()
    assert sorted(global_state["info"]) == [1, 2]  # true in-process; not on separate workers


class AddTaskWithDefault(Task):
    def __init__(self, *args, y=None, **kwargs):
        self.y = y
        super().__init__(*args, **kwargs)

    def run(self, x, y=None):
        if y is None:
            y = self.y

        return x + y


def test_a_task_class_as_a_template_with_a_default_overridden_at_runtime():
    add_task = AddTaskWithDefault(y=0)

    with Flow("add-with-default") as f:
        result_one = add_task(x=1)
        result_two = add_task(x=0, y=10)

    states = f.run().result()
    assert states[result_one].result() == 1
    assert states[result_two].result() == 10
    assert add_task.y == 0


def test_a_task_class_template_passes_task_keywords_to_the_parent():
    add_task = AddTaskWithDefault(y=3, name="add three", tags=["math"])
    assert repr(add_task) == "<Task: add three>"
    assert add_task.tags == {"math"}
    assert add_task.run(x=1) == 4


# ---- State Handlers ----------------------------------------------------------------------------
class FakeRequests:
    """Stand-in for ``requests``: ``post`` records the call instead of sending it."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str]]] = []

    def post(self, url: str, json: dict[str, str]) -> None:
        self.posts.append((url, json))


def notification_task(requests: FakeRequests, fail: bool) -> Task:
    def send_notification(obj, old_state, new_state):
        """Sends a POST request with the error message if task fails"""
        if new_state.is_failed():
            requests.post(
                "http://example.com",
                json={"error_msg": str(new_state.result(raise_on_failure=False))},
            )
        return new_state

    @task(state_handlers=[send_notification])
    def do_nothing():
        if fail:
            raise ValueError("something broke")

    return do_nothing


def test_the_notification_handler_posts_nothing_when_the_task_succeeds():
    requests = FakeRequests()
    state = TaskRunner(notification_task(requests, fail=False)).run()
    assert state.is_successful()
    assert requests.posts == []


def test_the_notification_handler_posts_the_error_message_when_the_task_fails():
    requests = FakeRequests()
    state = TaskRunner(notification_task(requests, fail=True)).run()
    assert state.is_failed()
    assert requests.posts == [("http://example.com", {"error_msg": "something broke"})]


def test_state_handlers_see_every_transition_in_the_order_given():
    seen = []

    def first(obj, old_state, new_state):
        seen.append(("first", type(old_state).__name__, type(new_state).__name__))
        return new_state

    def second(obj, old_state, new_state):
        seen.append(("second", type(old_state).__name__, type(new_state).__name__))
        return new_state

    @task(state_handlers=[first, second])
    def do_nothing():
        pass

    with Flow("handlers") as flow:
        do_nothing()
    assert flow.run().is_successful()
    assert seen == [
        ("first", "Pending", "Running"),
        ("second", "Pending", "Running"),
        ("first", "Running", "Success"),
        ("second", "Running", "Success"),
    ]


def test_on_failure_is_a_state_handler_called_only_on_failed_states():
    calls = []

    @task(on_failure=lambda t, state: calls.append((t.name, type(state).__name__)))
    def breaks():
        raise RuntimeError("no")

    @task(on_failure=lambda t, state: calls.append((t.name, type(state).__name__)))
    def works():
        return 1

    assert TaskRunner(breaks).run().is_failed()
    assert TaskRunner(works).run().is_successful()
    assert calls == [("breaks", "Failed")]


def test_a_state_handler_that_raises_fails_the_task():
    def broken_handler(obj, old_state, new_state):
        raise ConnectionError("notification service is down")

    @task(state_handlers=[broken_handler])
    def do_nothing():
        pass

    state = TaskRunner(do_nothing).run()
    assert isinstance(state, Failed)
    assert "state handler 'broken_handler' raised ConnectionError" in state.message
    assert isinstance(state.result(raise_on_failure=False), ConnectionError)
