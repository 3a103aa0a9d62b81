"""Which mapped levels run branch by branch (``find_branch_group``, pure), the
``max_in_flight`` options and the window that waits for room (``InFlightWindow``)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from orchestrator import Flow, Parameter, flatten, task, unmapped
from orchestrator.errors import FlowDefinitionError, TaskDefinitionError
from orchestrator.runs.in_flight import InFlightWindow, find_branch_group
from orchestrator.task_runners import SequentialTaskRunner
from taskrun.states import Success
from taskrun.wire import TaskRunCall


@task
def items() -> list[int]:
    return [1, 2, 3]


@task
def step(x: Any, y: Any = None) -> Any:
    return x


@task
def gather(xs: list[Any]) -> int:
    return len(xs)


def _group(flow: Flow, head: Any) -> Any:
    order = flow.sorted_tasks()
    return find_branch_group(flow, head, order, order.index(head), ())


def test_a_chain_of_nth_to_nth_levels_is_one_group_with_a_reduce_left_out():
    """items -> load* -> transform* -> save* -> gather: the starred levels, save the leaf;
    save keeps its future for gather, load and transform are released chunk by chunk."""
    with Flow("f", max_in_flight=4) as flow:
        load = step.map(items())
        transform = step.map(load)
        save = step.map(transform)
        total = gather(save)
    group = _group(flow, load)
    assert group.members == (load, transform, save)
    assert group.depth == {load: 0, transform: 1, save: 2}
    assert group.leaves == (save,)
    assert group.chained == (load, transform)
    assert group.bound == 4
    assert total not in group.depth


def test_levels_read_unmapped_or_flattened_or_through_another_task_are_left_out():
    """A level read whole (unmapped), flattened, or mapped together with a non-level task is
    not a level; what maps over it only through such a task is not one either."""
    with Flow("f", max_in_flight=2) as flow:
        load = step.map(items())
        whole = step.map(load, y=unmapped(load))
        flat = step.map(flatten(load))
        zipped = step.map(load, y=items())
        after = step.map(whole)
    group = _group(flow, load)
    assert group.members == (load,)
    assert not {whole, flat, zipped, after} & set(group.depth)
    assert group.leaves == (load,)  # its branches end with it
    assert group.chained == ()  # kept for the tasks outside that read it


def test_unmapped_inputs_that_do_not_depend_on_the_head_are_submitted_before_the_group():
    with Flow("f", max_in_flight=2) as flow:
        load = step.map(items())
        factor = Parameter("factor", default=2)
        transform = step.map(load, y=unmapped(factor))
    group = _group(flow, load)
    assert group.members == (load, transform)
    order = flow.sorted_tasks()
    if order.index(factor) > order.index(load):
        assert group.before == (factor,)
    else:  # already submitted by the time the head comes
        assert group.before == ()


def test_the_smallest_bound_of_the_flow_and_its_levels_wins_and_none_means_no_group():
    with Flow("f") as flow:
        load = step.map(items())
        step.copy(max_in_flight=3).map(load)
    assert _group(flow, load).bound == 3
    with Flow("g") as unbounded:
        load = step.map(items())
        step.map(load)
    assert _group(unbounded, load) is None
    with Flow("h", max_in_flight=2) as both:
        load = step.map(items())
        step.copy(max_in_flight=5).map(load)
    assert _group(both, load).bound == 2


def test_an_unmapped_task_or_one_with_a_given_state_starts_no_group():
    with Flow("f", max_in_flight=2) as flow:
        source = items()
        load = step.map(source)
    order = flow.sorted_tasks()
    assert find_branch_group(flow, source, order, order.index(source), ()) is None
    given = {load: Success()}
    assert find_branch_group(flow, load, order, order.index(load), given) is None


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4"])
def test_max_in_flight_must_be_a_positive_int(value):
    with pytest.raises(FlowDefinitionError, match=r"Flow 'f': max_in_flight=.* is not a posi"):
        Flow("f", max_in_flight=value)
    with pytest.raises(TaskDefinitionError, match=r"Task 'step': max_in_flight=.* is not a pos"):
        step.copy(max_in_flight=value)


def test_flow_copies_keep_their_bound_and_the_errors_pickle():
    assert Flow("f", max_in_flight=3).copy().max_in_flight == 3
    with pytest.raises(FlowDefinitionError) as raised:
        Flow("f", max_in_flight=0)
    error = raised.value
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def _done_handle(runner: SequentialTaskRunner, value: int) -> Any:
    return runner.given(Success(result=value))


class _Unfinished(SequentialTaskRunner):
    """A runner whose handles from ``pending`` stay unfinished until ``finish``."""

    def __init__(self) -> None:
        self.open: set[int] = set()

    def pending(self) -> Any:
        handle = self.given(Success())
        self.open.add(id(handle))
        return handle

    def wait(self, handle: Any, timeout: float | None = None) -> Any:
        return None if id(handle) in self.open else handle.state

    def submit(self, call: TaskRunCall) -> Any:  # pragma: no cover - not submitted to
        raise AssertionError(call)


def test_the_window_admits_at_once_when_runs_are_over_and_counts_unfinished_branches():
    runner = _Unfinished()
    window = InFlightWindow(runner, bound=2)
    window.add([_done_handle(runner, 1)])
    assert window.alive == 0
    first, second = runner.pending(), runner.pending()
    window.add([first, second])  # one branch with two leaves
    assert window.alive == 1
    window.admit(1)  # 1 + 1 <= 2: room
    runner.open.discard(id(first))
    window._final(first)
    assert window.alive == 1  # its other leaf still runs
    runner.open.discard(id(second))
    window.admit(2)  # polls, sees the branch over
    assert window.alive == 0
    window.close()
