"""The final state of a ``@flow`` run on every runner: what the body returns decides it.

Nothing returned: every task run's state counts; a future or state returned: that
state; a plain value: ``Completed`` with it; a raised exception: ``Failed``.
"""

from __future__ import annotations

import pytest

from orchestrator import flow
from taskrun.states import Completed, Failed

from .flow_api import add, fail

FAILED_TASK = "Failed(message='Task run encountered an exception.', type=FAILED)"


def test_flow_returning_nothing_is_completed_with_its_task_run_states(task_runner):
    @flow(task_runner=task_runner)
    def two_adds():
        add(1, 2)
        add(3, 4)

    state = two_adds()
    assert state == Completed("All states completed.", state.result())
    task_states = state.result()
    assert [s.result() for s in task_states] == [3, 7]
    assert all(repr(s) == "Completed(message=None, type=COMPLETED)" for s in task_states)


def test_flow_with_one_failed_task_run_of_three_says_one_of_three_failed(task_runner):
    @flow(task_runner=task_runner)
    def mixed():
        add(1)
        fail()
        add(2)

    state = mixed()
    assert repr(state) == "Failed(message='1/3 states failed.', type=FAILED)"
    task_states = state.result(raise_on_failure=False)
    assert [s.name for s in task_states] == ["Completed", "Failed", "Completed"]
    assert repr(task_states[1]) == FAILED_TASK
    with pytest.raises(ValueError, match="boom"):
        state.result()


def test_failed_task_state_result_returns_the_exception_when_not_raising(task_runner):
    @flow(task_runner=task_runner)
    def failing():
        return fail("bad row").wait()

    state = failing()
    assert isinstance(state.result(raise_on_failure=False), ValueError)
    with pytest.raises(ValueError, match="bad row"):
        state.result()


def test_flow_returning_a_future_takes_its_state(task_runner):
    @flow(task_runner=task_runner)
    def returns_future():
        add(1)
        return add(2, 3)

    state = returns_future()
    assert repr(state) == "Completed(message=None, type=COMPLETED)"
    assert state.result() == 5


def test_flow_returning_a_state_takes_that_state(task_runner):
    @flow(task_runner=task_runner)
    def returns_state():
        return fail().wait()

    assert repr(returns_state()) == FAILED_TASK


def test_flow_returning_a_plain_value_is_completed_with_it(task_runner):
    @flow(task_runner=task_runner)
    def returns_value():
        return add(1, 1).result() * 10

    state = returns_value()
    assert state == Completed(None, 20)


def test_flow_returning_a_list_of_futures_decides_over_those_only(task_runner):
    @flow(task_runner=task_runner)
    def returns_some():
        fail()
        return [add(1), add(2)]

    state = returns_some()
    assert state.message == "All states completed."
    assert [s.result() for s in state.result()] == [1, 2]


def test_flow_that_raises_is_failed_with_the_exception(task_runner):
    @flow(task_runner=task_runner)
    def raising():
        add(1)
        raise KeyError("missing")

    state = raising()
    assert state.is_failed()
    assert state.message == "Flow run encountered an exception."
    with pytest.raises(KeyError, match="missing"):
        state.result()


def test_flow_whose_task_result_raises_in_the_body_fails_the_flow(task_runner):
    @flow(task_runner=task_runner)
    def aborting():
        fail("stop here").result()
        add(1)  # never submitted

    state = aborting()
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), ValueError)


def test_task_body_exceptions_are_isolated_to_their_run(task_runner):
    @flow(task_runner=task_runner)
    def isolated():
        return [fail(), add(1)]

    state = isolated()
    assert isinstance(state, Failed)
    assert state.message == "1/2 states failed."
