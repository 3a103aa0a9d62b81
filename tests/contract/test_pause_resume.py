"""Pausing with ``manual_only`` (or the PAUSE signal) and resuming with ``Resume``, on
every runner.

``flow.run`` never blocks, so a paused run returns at once with the task ``Paused``.
The next run gets the finished tasks' states back through ``task_states``
(``{**paused.result(), gate: Resume()}``), so their results feed the resumed task
without running it again.
"""

from __future__ import annotations

from typing import Any

import pytest

import orchestrator
from orchestrator import Flow, task, unmapped
from orchestrator.engine import signals
from orchestrator.engine.state import Mapped, Paused, Pending, Resume, Success, TriggerFailed
from orchestrator.task_runners import BaseTaskRunner
from orchestrator.triggers import manual_only
from taskrun.errors import MissingInputError

from .dag_api import add_one


@task(trigger=manual_only)
def approve(x: int) -> int:
    return x * 10


@pytest.fixture
def paused_flow(record):
    @task
    def first():
        record("first")
        return 10

    @task(trigger=manual_only)
    def gate(x):
        record("gate")
        return x + 1

    @task
    def last(x):
        record("last")
        return x * 2

    with Flow("pause") as flow:
        a = first()
        g = gate(a)
        z = last(g)
    return flow, a, g, z


def test_a_manual_only_task_pauses_and_the_flow_run_returns_paused(
    paused_flow, record, task_runner
):
    flow, a, g, z = paused_flow
    state = flow.run(task_runner=task_runner)
    assert isinstance(state, Paused)
    assert state.is_paused()
    assert "'gate' paused" in state.message
    assert "Resume()" in state.message
    states = state.result()
    assert states[a].result() == 10
    assert isinstance(states[g], Paused)
    assert type(states[z]) is Pending
    assert record.events == ["first"]


def test_a_paused_task_resumed_with_the_paused_runs_states_runs_once_with_its_input(
    paused_flow, record, task_runner
):
    flow, _, g, z = paused_flow
    paused = flow.run(task_runner=task_runner)
    resumed = flow.run(
        task_states={**paused.result(), g: Resume()}, start_tasks=[g], task_runner=task_runner
    )
    assert resumed.is_successful()
    states = resumed.result()
    assert states[g].result() == 11
    assert states[z].result() == 22
    assert record.events == ["first", "gate", "last"]  # first ran once, in the paused run


def test_a_resumed_task_skips_its_trigger_without_start_tasks_too(paused_flow, record, task_runner):
    flow, _, g, z = paused_flow
    paused = flow.run(task_runner=task_runner)
    resumed = flow.run(task_states={**paused.result(), g: Resume()}, task_runner=task_runner)
    assert resumed.is_successful()
    assert resumed.result()[z].result() == 22
    assert record.events == ["first", "gate", "last"]


def test_a_resumed_task_without_its_upstream_data_fails_saying_how_to_pass_it(
    paused_flow, record, task_runner
):
    flow, _, g, _ = paused_flow
    state = flow.run(task_states={g: Resume()}, start_tasks=[g], task_runner=task_runner)
    gate_state = state.result()[g]
    assert gate_state.is_failed()
    assert isinstance(gate_state.result(raise_on_failure=False), MissingInputError)
    assert "Task 'gate': cannot start without its inputs: argument 'x' from task 'first'" in (
        gate_state.message
    )
    assert "task_states=" in gate_state.message
    assert record.events == []  # the body never ran on a missing input
    assert state.is_failed()


def test_a_paused_task_resumes_with_the_earlier_results(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("approval") as flow:
        value = add_one(1)
        approved = approve(value)
        final = add_one(approved)
    paused = flow.run(task_runner=task_runner)
    assert isinstance(paused, Paused)
    assert isinstance(paused.result()[approved], Paused)
    resumed = flow.run(
        task_runner=task_runner,
        task_states={**paused.result(), approved: Resume()},
        start_tasks=[approved],
    )
    assert resumed.is_successful()
    assert resumed.result()[final].result() == 21


def test_a_task_raising_pause_is_paused_and_its_downstream_waits(record, task_runner):
    @task
    def ask():
        raise signals.PAUSE("waiting for approval")

    @task
    def after(x):
        record("after")

    with Flow("pause signal") as flow:
        a = ask()
        b = after(a)
    state = flow.run(task_runner=task_runner)
    assert state.is_paused()
    assert isinstance(state.result()[a], Paused)
    assert state.result()[a].message == "waiting for approval"
    assert state.result()[b].is_pending()
    assert record.events == []


def test_a_paused_mapped_child_pauses_the_flow_run(task_runner):
    @task
    def maybe_pause(x):
        if x == 2:
            raise signals.PAUSE("child two waits")
        return x

    with Flow("paused child") as flow:
        m = maybe_pause.map(x=[1, 2, 3])
    state = flow.run(task_runner=task_runner)
    assert state.is_paused()
    children = state.result()[m].map_states
    assert [type(c) for c in children] == [Success, Paused, Success]


def test_resuming_reruns_a_mapped_task_left_waiting_and_pairs_it_with_the_given_children(
    task_runner, record
):
    @task
    def first(x):
        record(("first", x))
        if x == 2:
            raise ValueError("two is bad")
        return x * 10

    @task(trigger=manual_only)
    def gate():
        return "open"

    @task
    def after(x):
        record(("after", x))
        return x + 1

    with Flow("mapped resume") as flow:
        a = first.map(x=[1, 2, 3])
        g = gate()
        b = after.map(x=a, upstream_tasks=[unmapped(g)])
    paused = flow.run(task_runner=task_runner)
    assert paused.is_paused()
    assert all(c.is_pending() for c in paused.result()[b].map_states)

    resumed = flow.run(task_states={**paused.result(), g: Resume()}, task_runner=task_runner)
    children = resumed.result()[b].map_states
    assert [type(c) for c in children] == [Success, TriggerFailed, Success]
    assert (children[0].result(), children[2].result()) == (11, 31)
    # first ran once per element, in the paused run only; after ran for the good children
    assert sorted(e for e in record.events if e[0] == "first") == [
        ("first", 1),
        ("first", 2),
        ("first", 3),
    ]
    assert sorted(e for e in record.events if e[0] == "after") == [("after", 10), ("after", 30)]


def test_a_paused_mapped_child_is_resumed_alone(task_runner, record):
    @task
    def maybe_pause(x):
        record(x)
        if x == 2 and orchestrator.context.task_run_count == 1 and record.count(2) == 1:
            raise signals.PAUSE("child two waits")
        return x

    with Flow("paused child") as flow:
        m = maybe_pause.map(x=[1, 2, 3])
    paused = flow.run(task_runner=task_runner)
    children = paused.result()[m].map_states
    children[1] = Resume()
    resumed = flow.run(task_states={m: Mapped(map_states=children)}, task_runner=task_runner)
    assert resumed.is_successful()
    assert resumed.result()[m].result() == [1, 2, 3]
    assert sorted(record.events) == [1, 2, 2, 3]  # only the paused child ran again
