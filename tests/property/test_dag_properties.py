"""Properties of DAG flows on random graphs that are acyclic by construction.

Graphs have tasks ``t0 .. tn`` and edges only from a lower to a higher index, so
they cannot have cycles; a back edge (higher to lower, along an existing path)
always makes one.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import Flow, Task
from orchestrator.errors import CycleError
from orchestrator.task_runners import SequentialTaskRunner

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def dags(draw, max_tasks: int = 12):
    """(number of tasks, sorted list of edges (i, j) with i < j)."""
    size = draw(st.integers(min_value=1, max_value=max_tasks))
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=3 * size)) if pairs else []
    return size, sorted(edges)


class Step(Task):
    """Records its own name in a shared list when it runs."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name=name)
        self.log = log

    def run(self) -> str:
        self.log.append(self.name)
        return self.name


def build(size: int, edges: list[tuple[int, int]], log: list[str]) -> tuple[Flow, list[Step]]:
    steps = [Step(f"t{i}", log) for i in range(size)]
    flow = Flow("random dag", tasks=steps)
    for i, j in edges:
        flow.add_edge(steps[i], steps[j])
    return flow, steps


def reachable(size: int, edges: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Every (i, j) with a path of one or more edges from i to j."""
    after = {i: {j for a, j in edges if a == i} for i in range(size)}
    pairs = set()
    for start in range(size):
        stack, seen = list(after[start]), set()
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(after[node])
        pairs |= {(start, node) for node in seen}
    return pairs


@SETTINGS
@given(dags())
def test_a_random_dag_runs_every_task_once_in_an_order_that_respects_every_edge(dag):
    size, edges = dag
    log: list[str] = []
    flow, steps = build(size, edges, log)
    state = flow.run(task_runner=SequentialTaskRunner())
    assert state.is_successful()
    assert sorted(log) == sorted(s.name for s in steps)
    position = {name: index for index, name in enumerate(log)}
    for i, j in edges:
        assert position[f"t{i}"] < position[f"t{j}"], (i, j, log)


@SETTINGS
@given(dags())
def test_sorted_tasks_respect_every_edge_and_roots_and_terminals_match_the_edges(dag):
    size, edges = dag
    flow, steps = build(size, edges, [])
    order = flow.sorted_tasks()
    assert sorted(order, key=lambda t: t.name) == sorted(steps, key=lambda t: t.name)
    for i, j in edges:
        assert order.index(steps[i]) < order.index(steps[j])
    assert flow.root_tasks() == {steps[j] for j in range(size) if all(b != j for _, b in edges)}
    assert flow.terminal_tasks() == {steps[i] for i in range(size) if all(a != i for a, _ in edges)}
    flow.validate()


@st.composite
def dags_with_a_back_edge(draw):
    """A DAG and a back edge (j, i), j >= i, such that i reaches j: the back edge closes a cycle."""
    size, edges = draw(dags())
    candidates = sorted(reachable(size, edges)) + [(i, i) for i in range(size)]
    i, j = draw(st.sampled_from(candidates))
    return size, edges, (j, i)


@SETTINGS
@given(dags_with_a_back_edge())
def test_an_added_back_edge_is_always_reported_as_a_cycle_that_exists(case):
    size, edges, (j, i) = case
    flow, steps = build(size, edges, [])
    flow.add_edge(steps[j], steps[i])
    all_edges = {(f"t{a}", f"t{b}") for a, b in [*edges, (j, i)]}
    with pytest.raises(CycleError) as info:
        flow.validate()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert len(cycle) >= 2
    for upstream, downstream in itertools.pairwise(cycle):
        assert (upstream, downstream) in all_edges, (cycle, all_edges)
    assert " -> ".join(cycle) in str(info.value)


@SETTINGS
@given(dags_with_a_back_edge())
def test_a_flow_with_a_back_edge_never_runs_a_task(case):
    size, edges, (j, i) = case
    log: list[str] = []
    flow, steps = build(size, edges, log)
    flow.add_edge(steps[j], steps[i])
    with pytest.raises(CycleError):
        flow.run()
    assert log == []
