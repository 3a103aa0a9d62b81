"""Context keys and parameters reaching task runs, on every runner.

Flow and task names, map indexes, run names, ``today``/``yesterday``, context overrides,
the config file's ``[context]`` table and parameters with their defaults; nothing of a
run's context is left behind after it.
"""

from __future__ import annotations

from typing import Any

import orchestrator
from orchestrator import Flow, Parameter, context, task
from orchestrator.task_runners import BaseTaskRunner
from taskrun.context import current, reload_config

from .dag_api import add_one, numbers, run, total


@task
def describe_context(x: int) -> dict[str, Any]:
    keys = (
        "flow_name",
        "task_name",
        "map_index",
        "today",
        "yesterday",
        "parameters",
        "task_full_name",
        "flow_run_name",
        "task_run_name",
    )
    return {key: context.get(key) for key in keys} | {"x": x}


# ---- context ------------------------------------------------------------------------------------
def test_context_keys_reach_the_task_run(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("context-flow") as flow:
        limit = Parameter("limit", default=2)
        seen = describe_context.map(x=numbers(limit))
    state = flow.run(
        parameters={"limit": 2}, task_runner=task_runner, context={"today": "2020-03-02"}
    )
    first, second = state.result()[seen].result()
    assert first["flow_name"] == "context-flow"
    assert first["task_name"] == "describe_context"
    assert (first["map_index"], second["map_index"]) == (0, 1)
    assert first["task_full_name"] == "describe_context[0]"
    assert (first["today"], first["yesterday"]) == ("2020-03-02", "2020-03-01")
    assert first["parameters"] == {"limit": 2}
    assert first["flow_run_name"] == second["flow_run_name"]
    assert first["task_run_name"].startswith("describe_context-")
    assert first["task_run_name"].endswith("-0")
    assert second["task_run_name"].endswith("-1")


def test_a_body_runs_in_the_flows_context_overrides(task_runner):
    @task
    def read():
        return orchestrator.context.get("region")

    with Flow("f") as flow:
        result = read()
    _, states = run(flow, task_runner, context={"region": "eu"})
    assert states[result].result() == "eu"


def test_flow_and_task_run_keys_are_set_in_the_body(task_runner):
    @task
    def describe():
        c = orchestrator.context
        return c.flow_name, c.task_name, c.flow_run_name, c.task_run_name

    with Flow("described") as flow:
        result = describe()
    _, states = run(flow, task_runner)
    flow_name, task_name, flow_run_name, task_run_name = states[result].result()
    assert (flow_name, task_name) == ("described", "describe")
    assert flow_run_name.count("-") == 1
    assert task_run_name.startswith("describe-")


def test_map_index_is_none_outside_mapping_and_the_index_in_children(task_runner):
    @task
    def where(x=None):
        return orchestrator.context.map_index, orchestrator.context.task_full_name

    with Flow("f") as flow:
        single = where()
        mapped = where.map(x=["a", "b", "c"])
    _, states = run(flow, task_runner)
    assert states[single].result() == (None, "where")
    assert states[mapped].result() == [(0, "where[0]"), (1, "where[1]"), (2, "where[2]")]


def test_config_keys_reach_task_runs(config_file, task_runner):
    config_file.write_text("[context]\nbucket = 's3://data'\n")
    reload_config()

    @task
    def read():
        return context.bucket

    with Flow("f") as flow:
        result = read()
    assert flow.run(task_runner=task_runner).result()[result].result() == "s3://data"


def test_flow_run_context_today_gives_yesterday(task_runner):
    @task
    def read():
        return context.yesterday

    with Flow("f") as flow:
        result = read()
    state = flow.run(context={"today": "2020-03-02"}, task_runner=task_runner)
    assert state.result()[result].result() == "2020-03-01"


def test_run_context_is_gone_after_the_run(task_runner):
    @task
    def body():
        return context.task_name

    with Flow("f") as flow:
        result = body()
    assert flow.run(task_runner=task_runner, context={"a": 1}).result()[result].result() == "body"
    assert "task_name" not in context
    assert "a" not in context
    assert current().get("flow_name") is None


def test_the_logger_in_context_is_the_tasks_logger(task_runner):
    @task
    def body():
        return context.logger.name

    with Flow("f") as flow:
        result = body()
    assert flow.run(task_runner=task_runner).result()[result].result() == "orchestrator.Task: body"


# ---- parameters ---------------------------------------------------------------------------------
def test_parameters_flow_into_tasks_and_defaults_apply(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("parameters") as flow:
        count = Parameter("count", default=3)
        summed = total(add_one.map(x=numbers(count)))
    assert flow.run(task_runner=task_runner).result()[summed].result() == 9
    assert (
        flow.run(parameters={"count": 5}, task_runner=task_runner).result()[summed].result() == 20
    )
