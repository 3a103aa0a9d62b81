"""The final state of a ``@flow`` run from its task-run states: never a false success."""

from __future__ import annotations

from orchestrator.runs.flow_run_state import aggregate
from taskrun.states import Cancelled, Completed, Failed, Success


def test_a_flow_run_whose_task_runs_were_cancelled_is_cancelled_not_completed():
    final = aggregate([Success(), Cancelled()], ["a-1", "b-1"])
    assert isinstance(final, Cancelled)
    assert not final.is_successful()
    assert final.message == "1/2 states were cancelled."


def test_a_failure_is_reported_before_a_cancellation():
    final = aggregate([Failed(), Cancelled()], ["a-1", "b-1"])
    assert isinstance(final, Failed)
    assert final.message == "1/2 states failed."


def test_a_flow_run_whose_task_runs_all_succeeded_is_completed():
    final = aggregate([Success(), Success()], ["a-1", "b-1"])
    assert isinstance(final, Completed)
    assert final.message == "All states completed."
