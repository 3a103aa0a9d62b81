"""Pure graph algorithms over ``{node: [upstream nodes]}``."""

from __future__ import annotations

import pytest

from orchestrator.dag.graph import GraphCycle, descendants, find_cycle, topological_order


def test_topological_order_puts_every_node_after_its_upstream():
    #   a   b
    #    \ / \
    #     c   d
    #      \ /
    #       e
    graph = {"a": [], "b": [], "c": ["a", "b"], "d": ["b"], "e": ["c", "d"]}
    order = topological_order(graph)
    assert order == ["a", "b", "c", "d", "e"]


def test_topological_order_keeps_input_order_among_nodes_ready_together():
    assert topological_order({"z": [], "y": [], "x": []}) == ["z", "y", "x"]


def test_topological_order_of_a_cycle_raises_with_the_cycle():
    with pytest.raises(GraphCycle) as info:
        topological_order({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}


def test_an_upstream_missing_from_the_graph_is_named():
    with pytest.raises(KeyError, match="'b' depends on 'ghost', which is not in the graph"):
        topological_order({"b": ["ghost"]})


def test_find_cycle_follows_the_dependency_direction():
    # a -> b -> a: b depends on a, a depends on b
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]


def test_find_cycle_of_a_dag_is_empty():
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) == []


def test_find_cycle_finds_a_self_loop():
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_descendants_include_the_roots():
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert descendants(graph, ["b"]) == {"b", "c"}
    assert descendants(graph, []) == set()
