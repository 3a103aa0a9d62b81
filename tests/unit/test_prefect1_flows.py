"""Prefect 1's flow API: update, replace, chain, get_tasks, equality and copies,
iteration in topological order, stable slugs, and eager validation."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import Constant, Flow, Parameter, Task, task
from orchestrator.errors import CycleError, FlowDefinitionError


@task
def value(x: Any) -> Any:
    return x


@task
def add(x: Any, y: Any) -> Any:
    return x + y


def _edges(flow: Flow) -> set[tuple[str, str, str | None]]:
    return {(e.upstream_task.name, e.downstream_task.name, e.key) for e in flow.edges}


# ---- update ----------------------------------------------------------------------------------
def test_update_adds_the_other_flows_tasks_edges_and_constants():
    with Flow("one") as one:
        a = value(1)
    with Flow("two") as two:
        b = add(2, 3)
    one.update(two)
    assert one.tasks == {a, b}
    assert one.constants[b] == {"x": 2, "y": 3}
    assert one.run().result()[b].result() == 5


def test_update_with_merge_parameters_uses_this_flows_parameter_of_the_same_name():
    with Flow("one") as one:
        mine = Parameter("n", default=1)
        first = value(mine)
    with Flow("two") as two:
        second = value(Parameter("n", default=2))
    one.update(two, merge_parameters=True)
    assert one.parameters() == {mine}
    assert one.upstream_tasks(second) == {mine}
    states = one.run(parameters={"n": 7}).result()
    assert (states[first].result(), states[second].result()) == (7, 7)


def test_update_without_merging_refuses_two_parameters_of_one_name():
    with Flow("one") as one:
        value(Parameter("n"))
    with Flow("two") as two:
        value(Parameter("n"))
    with pytest.raises(FlowDefinitionError, match=r"two different parameters are named 'n'"):
        one.update(two)


# ---- replace ---------------------------------------------------------------------------------
def test_replace_moves_edges_constants_reference_mark_and_slug_to_the_new_task():
    with Flow("f") as flow:
        source = value(1)
        old = add(source, 10)
        after = value(old)
    flow.set_reference_tasks([old])
    slug = flow.slugs[old]
    new = add.copy(name="better_add")
    flow.replace(old, new)
    assert old not in flow.tasks
    assert _edges(flow) == {("value", "better_add", "x"), ("better_add", "value", "x")}
    assert flow.constants[new] == {"y": 10}
    assert flow.reference_tasks() == {new}
    assert flow.slugs[new] == slug
    assert flow.run().result()[after].result() == 11


def test_replace_with_a_plain_value_puts_a_constant_there():
    with Flow("f") as flow:
        old = value(1)
        after = value(old)
    flow.replace(old, 5)
    (constant,) = flow.upstream_tasks(after)
    assert isinstance(constant, Constant)
    assert flow.run().result()[after].result() == 5


def test_replace_of_a_task_not_in_the_flow_names_it():
    with pytest.raises(FlowDefinitionError, match=r"replace\(\): task 'stray' is not in the flow"):
        Flow("f").replace(Task(name="stray"), Task())


# ---- chain, get_tasks ------------------------------------------------------------------------
def test_chain_adds_state_dependencies_in_order_and_returns_them():
    a, b, c = Task(name="a"), Task(name="b"), Task(name="c")
    flow = Flow("f")
    edges = flow.chain(a, b, c)
    assert [(e.upstream_task, e.downstream_task, e.key) for e in edges] == [
        (a, b, None),
        (b, c, None),
    ]
    assert flow.sorted_tasks() == [a, b, c]


def test_get_tasks_filters_by_every_criterion_given():
    with Flow("f") as flow:
        loud = value.copy(name="load", tags={"db", "io"})()
        quiet = value.copy(name="load", tags={"db"})()
        other = add(1, 2)
    assert flow.get_tasks(name="load") == [loud, quiet]
    assert flow.get_tasks(name="load", tags=["io"]) == [loud]
    assert flow.get_tasks(tags={"db"}) == [loud, quiet]
    assert flow.get_tasks(slug=flow.slugs[other]) == [other]
    assert flow.get_tasks(task_type=Constant) == []
    assert flow.get_tasks(name="missing") == []


# ---- equality, copies, iteration -------------------------------------------------------------
def test_a_copy_equals_its_flow_until_either_changes():
    with Flow("f") as flow:
        a = value(1)
        b = value(a)
    copy = flow.copy()
    assert copy == flow
    assert copy is not flow
    assert copy.slugs == flow.slugs
    copy.add_edge(Task(name="extra"), b)
    assert copy != flow
    assert flow != Flow("g", tasks=list(flow.tasks))


def test_flows_hash_by_identity_so_equal_flows_are_distinct_keys():
    flow = Flow("f", tasks=[Task()])
    assert len({flow, flow.copy()}) == 2


def test_iterating_a_flow_gives_its_tasks_in_topological_order():
    first, second, third = Task(name="first"), Task(name="second"), Task(name="third")
    flow = Flow("f", tasks=[third, second, first])
    flow.chain(first, second, third)
    assert list(flow) == [first, second, third]


# ---- slugs -----------------------------------------------------------------------------------
def _build() -> Flow:
    with Flow("etl") as flow:
        add(value(1), value(2))
    return flow


def test_slugs_number_tasks_of_one_name_in_creation_order_the_same_in_every_build():
    flow = _build()
    assert sorted(flow.slugs.values()) == ["add-1", "value-1", "value-2"]
    assert [flow.slugs[t] for t in flow.get_tasks(name="value")] == ["value-1", "value-2"]
    assert sorted(_build().slugs.values()) == sorted(flow.slugs.values())


def test_a_given_slug_is_kept_and_must_be_unique_in_the_flow():
    flow = Flow("f", tasks=[Task(name="a", slug="load-main")])
    assert list(flow.slugs.values()) == ["load-main"]
    with pytest.raises(FlowDefinitionError, match=r"slug 'load-main', which another task"):
        flow.add_task(Task(name="b", slug="load-main"))


# ---- eager validation ------------------------------------------------------------------------
def test_add_edge_with_validate_refuses_a_cycle_and_leaves_the_flow_as_it_was():
    a, b = Task(name="a"), Task(name="b")
    flow = Flow("f")
    flow.add_edge(a, b)
    with pytest.raises(CycleError, match=r"a -> b -> a|b -> a -> b"):
        flow.add_edge(b, a, validate=True)
    assert _edges(flow) == {("a", "b", None)}
    flow.validate()


def test_without_validate_a_cycle_is_found_by_validate():
    a, b = Task(name="a"), Task(name="b")
    flow = Flow("f")
    flow.chain(a, b)
    flow.add_edge(b, a)
    with pytest.raises(CycleError):
        flow.validate()


def test_chain_with_validate_stops_at_the_edge_closing_a_cycle():
    a, b = Task(name="a"), Task(name="b")
    flow = Flow("f")
    flow.chain(a, b)
    with pytest.raises(CycleError):
        flow.chain(b, a, validate=True)
    assert _edges(flow) == {("a", "b", None)}
