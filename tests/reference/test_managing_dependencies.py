"""Every example of ``reference/managing-dependencies.md`` on ``orchestrator``.

The document's task bodies are comments returning undefined names (``return data``);
here they return small real values so each run can be checked end to end.
"""

from __future__ import annotations

import pytest

from orchestrator import Dependency, Flow, Task, task
from orchestrator.task_runners import ConcurrentTaskRunner, SequentialTaskRunner

RUNNERS = [SequentialTaskRunner, ConcurrentTaskRunner]


# ---- Defining Dependencies ----------------------------------------------------------------------
@task
def fetch_data():
    # Code to fetch data from a source
    data = [3, 1, 2]
    return data


@task
def transform_data(raw_data):
    # Code to transform raw data
    transformed_data = sorted(raw_data)
    return transformed_data


def test_passing_one_tasks_result_to_another_makes_it_a_dependency():
    with Flow("defining-dependencies") as flow:
        raw = fetch_data()
        transformed = transform_data(raw)

    (edge,) = flow.edges
    assert (edge.upstream_task, edge.downstream_task, edge.key) == (raw, transformed, "raw_data")
    assert flow.sorted_tasks() == [raw, transformed]
    assert flow.run().result()[transformed].result() == [1, 2, 3]


# ---- Controlling Execution Order ----------------------------------------------------------------
class FetchDataTask(Task):
    def run(self):
        # Code to fetch data from a source
        data = {"output": [3, 1, 2], "status": "ok"}
        return data


class TransformDataTask(Task):
    def run(self, raw_data):
        # Code to transform raw data
        transformed_data = sorted(raw_data["output"])
        return transformed_data


@pytest.mark.parametrize("runner", RUNNERS)
def test_depends_on_declares_an_upstream_edge_and_the_flow_runs_in_that_order(runner):
    order = []

    class Fetch(FetchDataTask):
        def run(self):
            order.append("fetch")
            return super().run()

    class Transform(TransformDataTask):
        def run(self, raw_data):
            order.append("transform")
            return super().run(raw_data)

    fetch_task = Fetch()
    transform_task = Transform()

    transform_task.depends_on(Dependency(fetch_task, key="output"))

    with Flow("data-flow") as flow:
        data = fetch_task()
        transformed_data = transform_task(data)

    assert flow.upstream_tasks(transformed_data) == {data}
    assert flow.root_tasks() == {data}
    assert flow.terminal_tasks() == {transformed_data}
    state = flow.run(task_runner=runner())
    assert state.is_successful()
    assert state.result()[transformed_data].result() == [1, 2, 3]
    assert order == ["fetch", "transform"]


def test_a_dependency_used_as_an_argument_delivers_the_item_named_by_its_key():
    @task
    def total(values):
        return sum(values)

    fetch_task = FetchDataTask()
    with Flow("keyed") as flow:
        result = total(Dependency(fetch_task, key="output"))
        whole = total(Dependency(fetch_task))
    states = flow.run().result()
    assert states[result].result() == 6
    assert states[whole].is_failed()  # the whole dict is not a list of numbers


def test_depends_on_alone_adds_the_upstream_task_to_the_flow():
    fetch_task = FetchDataTask()
    transform_task = Task(name="after fetch")
    transform_task.depends_on(Dependency(fetch_task))

    with Flow("ordering only") as flow:
        after = transform_task()

    assert flow.upstream_tasks(after) == {fetch_task}
    assert flow.sorted_tasks() == [fetch_task, after]
    assert flow.run().is_successful()


def test_depends_on_rejects_anything_but_a_dependency():
    with pytest.raises(TypeError, match=r"Write task.depends_on\(Dependency\(other\)\)"):
        Task(name="consumer").depends_on(FetchDataTask())


# ---- Parallel Execution ------------------------------------------------------------------------
def build_parallel_flow(record):
    @task
    def task1():
        # Code for task 1
        record("task1")

    @task
    def task2():
        # Code for task 2
        record("task2")

    @task
    def task3():
        # Code for task 3
        record("task3")

    with Flow("parallel-flow") as flow:
        t1 = task1()
        t2 = task2()
        t3 = task3()
    return flow, t1, t2, t3


def test_tasks_without_dependencies_are_independent_roots():
    flow, t1, t2, t3 = build_parallel_flow(lambda name: None)
    assert flow.edges == set()
    assert flow.root_tasks() == flow.terminal_tasks() == {t1, t2, t3}


@pytest.mark.parametrize("runner", RUNNERS)
def test_set_upstream_after_the_with_block_orders_the_tasks(runner):
    order = []
    flow, t1, t2, t3 = build_parallel_flow(order.append)

    t1.set_upstream(t2)
    t2.set_upstream(t3)

    assert flow.upstream_tasks(t1) == {t2}
    assert flow.upstream_tasks(t2) == {t3}
    assert flow.sorted_tasks() == [t3, t2, t1]
    assert flow.run(task_runner=runner()).is_successful()
    assert order == ["task3", "task2", "task1"]


def test_set_upstream_outside_any_flow_says_how_to_give_it_one():
    with pytest.raises(ValueError, match=r"set_upstream needs a flow"):
        Task(name="lonely").set_upstream(Task(name="other"))
