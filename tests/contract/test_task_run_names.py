"""``task_run_name``: a template or a callable names each task run (Prefect 1).

The name is ``context.task_run_name`` inside the body and tags the body's log lines; a
template that needs only what is known at submission also heads the run's Dask key.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from orchestrator import Flow, Parameter, context, flow, task
from orchestrator.engine import TaskRunner
from orchestrator.engine.state import Failed
from orchestrator.errors import TaskDefinitionError
from orchestrator.task_runners import SequentialTaskRunner
from taskrun.wire import TaskRunCall

pytestmark = pytest.mark.timeout(120)


@task(task_run_name="load-{path}-{map_index}")
def load(path: str) -> str:
    context.logger.info("loading")
    return str(context.task_run_name)


@task
def paths() -> list[str]:
    return ["a", "b"]


def test_a_template_names_each_mapped_child_from_its_input_and_map_index(task_runner):
    with Flow("names") as flow:
        loaded = load.map(paths())
    state = flow.run(task_runner=task_runner)
    assert state.result()[loaded].result() == ["load-a-0", "load-b-1"]


def test_a_template_reads_parameters_and_context_keys(task_runner):
    @task(task_run_name="{flow_name}-{day}-{x}")
    def named(x: int) -> str:
        return str(context.task_run_name)

    with Flow("keys") as flow:
        day = Parameter("day", default="mon")
        result = named(1, upstream_tasks=[day])
    state = flow.run(task_runner=task_runner)
    assert state.result()[result].result() == "keys-mon-1"


def test_a_callable_gets_the_keys_as_keyword_arguments(task_runner):
    def name_of(**keys: Any) -> str:
        return f"row-{keys['x'] * 10}"

    @task(task_run_name=name_of)
    def named(x: int) -> str:
        return str(context.task_run_name)

    with Flow("callable") as flow:
        result = named(4)
    assert flow.run(task_runner=task_runner).result()[result].result() == "row-40"


def test_a_template_naming_a_missing_key_fails_the_run_listing_the_keys(task_runner):
    @task(task_run_name="{nope}", max_retries=3, retry_delay=0)
    def named(x: int) -> int:
        return x

    with Flow("missing") as flow:
        result = named(1)
    failed = flow.run(task_runner=task_runner).result()[result]
    assert isinstance(failed, Failed)
    assert "task_run_name '{nope}' names 'nope'" in str(failed.message)
    assert "Available keys:" in str(failed.message)
    assert "map_index" in str(failed.message)
    assert " x," in str(failed.message)
    assert failed.run_count <= 1  # not retried: no attempt would fare better


def test_the_name_tags_the_log_lines_of_the_body(caplog):
    with Flow("logged") as flow:
        load.map(paths())
    with caplog.at_level(logging.INFO):
        flow.run()
    names = [getattr(r, "task_run_name", None) for r in caplog.records if r.message == "loading"]
    assert names == ["load-a-0", "load-b-1"]


def test_the_single_task_runner_names_the_run_too():
    assert TaskRunner(load).run(inputs={"path": "p"}).result() == "load-p-None"


class _Recording(SequentialTaskRunner):
    """Runs sequentially, keeping the name of every call (the head of its Dask key)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def submit(self, call: TaskRunCall) -> Any:
        self.names.append(call.name)
        return super().submit(call)


def test_a_template_known_at_submission_heads_the_run_name_and_keeps_names_unique():
    @task(task_run_name="row {map_index} of {flow_name}")
    def named(x: int) -> int:
        return x

    with Flow("submitted") as flow:
        named.map([7, 7])
    runner = _Recording()
    flow.run(task_runner=runner)
    rows = sorted(n for n in runner.names if n.startswith("row"))
    assert len(set(rows)) == 2
    assert rows[0].startswith("row_0_of_submitted-")
    assert rows[0].endswith("-0")
    assert rows[1].startswith("row_1_of_submitted-")
    assert rows[1].endswith("-1")


def test_a_template_needing_an_upstream_result_keeps_the_usual_run_name():
    with Flow("upstream") as flow:
        load.map(paths())
    runner = _Recording()
    flow.run(task_runner=runner)
    assert [n.split("-")[0] for n in runner.names if "load" in n] == ["load", "load"]


def test_a_task_run_name_that_is_neither_text_nor_callable_is_refused():
    with pytest.raises(TaskDefinitionError, match="task_run_name=42"):

        @task(task_run_name=42)
        def named() -> None:
            return None


def test_a_flow_function_names_its_task_runs_too(task_runner):
    @flow(task_runner=task_runner)
    def names() -> list[str]:
        return [f.result() for f in load.map(["x", "y"])]

    assert names().result() == ["load-x-0", "load-y-1"]
