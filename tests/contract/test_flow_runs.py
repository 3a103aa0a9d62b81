"""Flow runs on every runner: results, triggers, skips, signals, failures and the flow state.

A failure fails what depends on it and nothing else; ``always_run`` and ``all_finished``
tasks run after it; skips propagate; ``return_tasks`` limits what is returned, not what
runs; given states are kept and their results used.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Skipped, Success, TriggerFailed
from orchestrator.task_runners import BaseTaskRunner
from orchestrator.triggers import all_failed, all_finished, always_run, any_successful, some_failed

from .dag_api import add_one, boom, divide, fails, run, succeeds


@task(trigger=all_finished)
def count_states(values: list[Any]) -> int:
    return len(values)


@task(trigger=always_run)
def cleanup() -> str:
    return "cleaned"


# ---- triggers in flows --------------------------------------------------------------------------
def test_a_failed_upstream_makes_a_default_trigger_task_trigger_failed_without_running_it(
    task_runner, record
):
    @task
    def b():
        record("b ran")

    with Flow("f") as flow:
        a = fails()
        downstream = b(upstream_tasks=[a])
    state, states = run(flow, task_runner)
    assert isinstance(states[a], Failed)
    assert isinstance(states[downstream], TriggerFailed)
    assert "Task 'b': trigger did not pass" in states[downstream].message
    assert "'fails'" in states[downstream].message
    assert record.events == []
    assert state.is_failed()


def test_an_all_failed_task_as_the_only_terminal_task_makes_the_flow_succeed(task_runner):
    @task(trigger=all_failed)
    def recover():
        return "recovered"

    with Flow("f") as flow:
        a = fails()
        b = recover(upstream_tasks=[a])
    state, states = run(flow, task_runner)
    assert states[a].is_failed()
    assert states[b].result() == "recovered"
    assert flow.terminal_tasks() == {b}
    assert state.is_successful()


@pytest.mark.parametrize(
    ("failures", "trigger", "runs"),
    [
        (1, some_failed(at_least=1), True),
        (1, some_failed(at_least=2), False),
        (3, some_failed(at_most=2), False),
        (2, some_failed(at_least=0.5, at_most=0.5), True),
        (3, some_failed(at_least=0.5, at_most=0.5), False),
    ],
)
def test_some_failed_counts_and_fractions_decide_in_a_flow(task_runner, failures, trigger, runs):
    @task
    def maybe(i):
        if i < failures:
            raise ValueError(i)
        return i

    @task(trigger=trigger)
    def judge():
        return "ran"

    with Flow("f") as flow:
        upstream = [maybe(i) for i in range(4)]
        verdict = judge(upstream_tasks=upstream)
    _, states = run(flow, task_runner)
    assert states[verdict].is_successful() is runs
    assert isinstance(states[verdict], Success if runs else TriggerFailed)


def test_a_failure_fails_downstream_with_trigger_failed_and_the_flow(
    task_runner: BaseTaskRunner[Any],
) -> None:
    with Flow("failing") as flow:
        bad = boom()
        after = add_one(bad)
        last = add_one(after)
    state = flow.run(task_runner=task_runner)
    assert state.is_failed()
    results = state.result()
    assert isinstance(results[bad], Failed)
    with pytest.raises(ValueError, match="boom"):
        results[bad].result()
    assert isinstance(results[after], TriggerFailed)
    assert isinstance(results[last], TriggerFailed)


def test_always_run_and_all_finished_tasks_run_after_a_failure(
    task_runner: BaseTaskRunner[Any],
) -> None:
    with Flow("cleanup") as flow:
        bad = boom()
        tidy = cleanup(upstream_tasks=[bad])
        counted = count_states(divide.map(x=[1, 2, 3, 4]))
    state = flow.run(task_runner=task_runner)
    results = state.result()
    assert results[tidy].result() == "cleaned"
    assert results[counted].result() == 4


# ---- skips and signals --------------------------------------------------------------------------
def test_a_skipped_upstream_skips_the_downstream_before_its_trigger_is_checked(task_runner, record):
    @task
    def skipper():
        raise signals.SKIP("nothing to do")

    def spy(upstream_states):
        record("trigger asked")
        return True

    @task(trigger=spy)
    def downstream():
        record("body ran")

    @task
    def further(x):
        record("further ran")

    with Flow("f") as flow:
        b = downstream(upstream_tasks=[skipper])
        c = further(b)
    state, states = run(flow, task_runner)
    assert isinstance(states[b], Skipped)
    assert isinstance(states[c], Skipped)  # skips propagate all the way down
    assert record.events == []
    assert state.is_successful()  # a skip is a success


def test_skip_on_upstream_skip_false_asks_the_trigger(task_runner):
    @task
    def skipper():
        raise signals.SKIP()

    @task(skip_on_upstream_skip=False, trigger=any_successful)
    def downstream():
        return "ran"

    with Flow("f") as flow:
        b = downstream(upstream_tasks=[skipper])
    _, states = run(flow, task_runner)
    assert states[b].result() == "ran"  # Skipped counts as successful


def test_success_with_a_result_passes_that_result_downstream(task_runner):
    @task
    def early():
        raise signals.SUCCESS(result=5)

    @task
    def receive(x):
        return x

    with Flow("f") as flow:
        received = receive(early())
    _, states = run(flow, task_runner)
    assert states[received].result() == 5


# ---- independent branches and returned states ---------------------------------------------------
def test_a_failing_task_never_stops_its_siblings_or_unrelated_branches(task_runner, record):
    @task
    def step(name):
        record(name)
        return name

    with Flow("f") as flow:
        broken = fails()
        after_broken = step("after broken", upstream_tasks=[broken])
        sibling = step("sibling")
        other_branch = step(step("other branch root"))
    _, states = run(flow, task_runner)
    assert isinstance(states[after_broken], TriggerFailed)
    assert states[sibling].result() == "sibling"
    assert states[other_branch].result() == "other branch root"
    assert sorted(record.events) == ["other branch root", "other branch root", "sibling"]
    assert set(states) == flow.tasks  # every computed state is returned


def test_return_tasks_limits_the_returned_states_but_not_what_runs(task_runner, record):
    @task
    def step(name):
        record(name)
        return name

    with Flow("f") as flow:
        first = step("first")
        second = step("second", upstream_tasks=[first])
    state, states = run(flow, task_runner, return_tasks=[second])
    assert set(states) == {second}
    assert sorted(record.events) == ["first", "second"]
    assert state.is_successful()


# ---- the flow state -----------------------------------------------------------------------------
def test_the_flow_state_names_the_failed_reference_tasks(task_runner):
    with Flow("f") as flow:
        fails()
        succeeds()
    state = flow.run(task_runner=task_runner)
    assert isinstance(state, Failed)
    assert state.message == "Some reference tasks failed: 'fails'."


def test_a_non_terminal_failure_with_a_recovering_terminal_task_is_a_success(task_runner):
    @task(trigger=all_failed)
    def cleanup():
        return "cleaned"

    with Flow("f") as flow:
        cleanup(upstream_tasks=[fails])
    assert flow.run(task_runner=task_runner).is_successful()


def test_a_given_finished_state_is_kept_and_its_result_used(task_runner, record):
    @task
    def expensive():
        record("expensive ran")
        return 1

    @task
    def cheap(x):
        return x + 1

    with Flow("f") as flow:
        a = expensive()
        b = cheap(a)
    _, states = run(flow, task_runner, task_states={a: Success(result=41)})
    assert states[b].result() == 42
    assert record.events == []


def test_flow_runner_runs_a_flow_like_flow_run(task_runner):
    from orchestrator.engine import FlowRunner

    with Flow("f") as flow:
        result = succeeds()
    state = FlowRunner(flow=flow).run(task_runner=task_runner, return_tasks=[result])
    assert state.is_successful()
    assert state.result()[result].result() == "ok"
