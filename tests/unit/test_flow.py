"""Flow: building the DAG (functional and imperative), validation, parameters, reference tasks."""

from __future__ import annotations

import pytest

from orchestrator import Constant, Flow, Parameter, Task, flatten, task, unmapped
from orchestrator.core import Edge
from orchestrator.errors import CycleError, FlowDefinitionError, ParameterError


@task
def add(x, y):
    return x + y


@task
def identity(x):
    return x


def named(*names):
    return [Task(name=n) for n in names]


# ---- functional API ----------------------------------------------------------------------------
def test_calling_a_task_twice_adds_two_copies():
    with Flow("f") as flow:
        one = add(1, 2)
        two = add(3, 4)
    assert one is not two
    assert flow.tasks == {one, two}
    states = flow.run().result()
    assert (states[one].result(), states[two].result()) == (3, 7)


def test_a_copys_result_feeds_the_next_call():
    with Flow("f") as flow:
        first = add(1, 2)
        second = add(first, 10)
    (edge,) = flow.edges
    assert (edge.upstream_task, edge.downstream_task, edge.key) == (first, second, "x")
    assert flow.constants[second] == {"y": 10}
    assert flow.run().result()[second].result() == 13


def test_positional_and_keyword_arguments_bind_by_the_run_signature():
    with Flow("f") as flow:
        total = add(1, y=identity(2))
    assert {e.key for e in flow.edges} == {"y"}
    assert flow.run().result()[total].result() == 3


def test_an_argument_bound_twice_is_an_error():
    flow = Flow("f")
    flow.set_dependencies(add, keyword_tasks={"x": 1, "y": 2})
    with pytest.raises(
        FlowDefinitionError, match=r"task 'add' already has an input for argument 'x'"
    ):
        flow.set_dependencies(add, keyword_tasks={"x": 3})


def test_binding_an_argument_the_task_does_not_take_shows_its_signature():
    with pytest.raises(
        FlowDefinitionError,
        match=r"Flow 'f': task 'add' has no argument 'z'; its run\(\) signature is",
    ):
        Flow("f").add_edge(identity, add, key="z")


def test_tasks_inside_collections_become_upstream_of_a_collection_task():
    with Flow("f") as flow:
        a = identity(1)
        b = identity(2)
        both = identity([a, b, 3])
    states = flow.run().result()
    assert states[both].result() == [1, 2, 3]
    collection = next(iter(flow.upstream_tasks(both)))
    assert repr(collection) == "<Task: List>"
    assert flow.upstream_tasks(collection) == {a, b}


@pytest.mark.parametrize(
    ("value", "name"), [((1, 2), "Tuple"), ({1, 2}, "Set"), ({"k": 1}, "Dict")]
)
def test_each_kind_of_collection_keeps_its_type(value, name):
    with Flow("f") as flow:
        result = identity(value)
    assert name in {t.name for t in flow.tasks}
    assert flow.run().result()[result].result() == value


def test_indexing_a_task_result_makes_a_getitem_task():
    @task
    def pair():
        return {"a": 1, "b": 2}

    with Flow("f") as flow:
        b = identity(pair()["b"])
    assert flow.run().result()[b].result() == 2


def test_a_constant_value_is_stored_not_made_a_task():
    with Flow("f") as flow:
        result = identity(5)
    assert flow.tasks == {result}
    assert flow.constants[result] == {"x": 5}


def test_an_explicit_constant_task_is_upstream():
    with Flow("f") as flow:
        result = identity(Constant([1, 2]))
    (upstream,) = flow.upstream_tasks(result)
    assert repr(upstream) == "<Task: Constant[list]>"
    assert flow.run().result()[result].result() == [1, 2]


def test_nested_with_blocks_add_to_the_innermost_flow():
    with Flow("outer") as outer:
        a = identity(1)
        with Flow("inner") as inner:
            b = identity(2)
        c = identity(3)
    assert outer.tasks == {a, c}
    assert inner.tasks == {b}


def test_a_flow_needs_a_name():
    with pytest.raises(TypeError, match="Flow needs a non-empty name"):
        Flow("")


# ---- imperative API ----------------------------------------------------------------------------
def test_add_task_is_idempotent_and_rejects_non_tasks():
    flow = Flow("f")
    t = Task(name="t")
    assert flow.add_task(t) is t
    flow.add_task(t)
    assert flow.tasks == {t}
    with pytest.raises(
        TypeError, match=r"Flow 'f': add_task needs a Task, got 3. Wrap plain values"
    ):
        flow.add_task(3)


def test_add_edge_adds_both_tasks_and_the_edge_once():
    a, b = named("a", "b")
    flow = Flow("f")
    edge = flow.add_edge(a, b)
    flow.add_edge(a, b)
    assert flow.tasks == {a, b}
    assert flow.edges == {edge} == {Edge(a, b)}
    assert flow.upstream_tasks(b) == {a}
    assert flow.downstream_tasks(a) == {b}


def test_edges_compare_by_their_ends_key_and_mapping():
    a, b = named("a", "b")
    assert Edge(a, b) == Edge(a, b)
    assert Edge(a, b, key="x") != Edge(a, b)
    assert Edge(a, b, mapped=True) != Edge(a, b)
    assert repr(Edge(a, b, key="x", mapped=True)) == "<Edge: a -[x]-> b (mapped)>"
    with pytest.raises(TypeError, match="Edge key must be an argument name"):
        Edge(a, b, key=1)


def test_set_dependencies_wires_upstream_downstream_and_keyword_tasks():
    a, c = named("a", "c")
    flow = Flow("f")
    flow.set_dependencies(
        add, upstream_tasks=[a], downstream_tasks=[c], keyword_tasks={"x": identity, "y": 2}
    )
    assert flow.upstream_tasks(add) == {a, identity}
    assert flow.downstream_tasks(add) == {c}
    assert flow.constants[add] == {"y": 2}


def test_set_upstream_and_set_downstream_with_a_key_pass_data():
    flow = Flow("f")
    source = Constant(4)
    flow.add_task(source)
    flow.add_task(identity)
    identity.set_upstream(source, flow=flow, key="x")
    assert flow.run().result()[identity].result() == 4
    other = Flow("g")
    source.set_downstream(identity, flow=other, key="x")
    assert other.run().result()[identity].result() == 4


def test_root_terminal_and_sorted_tasks():
    a, b, c, d = named("a", "b", "c", "d")
    flow = Flow("f")
    flow.add_edge(a, b)
    flow.add_edge(b, d)
    flow.add_edge(c, d)
    assert flow.root_tasks() == {a, c}
    assert flow.terminal_tasks() == {d}
    order = flow.sorted_tasks()
    assert order.index(a) < order.index(b) < order.index(d)
    assert order.index(c) < order.index(d)
    assert flow.sorted_tasks(root_tasks=[b]) == [b, d]


def test_the_flow_constructor_takes_tasks_edges_and_reference_tasks():
    a, b = named("a", "b")
    flow = Flow("f", tasks=[a], edges=[Edge(a, b)], reference_tasks=[a])
    assert flow.tasks == {a, b}
    assert flow.reference_tasks() == {a}


def test_reference_tasks_default_to_terminal_tasks():
    a, b = named("a", "b")
    flow = Flow("f")
    flow.add_edge(a, b)
    assert flow.reference_tasks() == {b}
    flow.set_reference_tasks([a])
    assert flow.reference_tasks() == {a}


def test_reference_tasks_must_be_in_the_flow():
    with pytest.raises(FlowDefinitionError, match=r"reference tasks \['x'\] are not in the flow"):
        Flow("f").set_reference_tasks([Task(name="x")])


def test_get_tasks_finds_tasks_by_name_in_insertion_order():
    a1, b, a2 = Task(name="a"), Task(name="b"), Task(name="a")
    flow = Flow("f", tasks=[a1, b, a2])
    assert flow.get_tasks("a") == [a1, a2]
    assert flow.get_tasks() == [a1, b, a2]


def test_copy_makes_a_separate_graph_with_the_same_tasks():
    a, b, c = named("a", "b", "c")
    flow = Flow("f")
    flow.add_edge(a, b)
    clone = flow.copy()
    clone.add_edge(b, c)
    assert flow.tasks == {a, b}
    assert clone.tasks == {a, b, c}
    assert clone.edges == {Edge(a, b), Edge(b, c)}


def test_flatten_without_map_gives_the_consumer_the_concatenation():
    with Flow("f") as flow:
        reduced = identity(flatten([[1], [2, 3]]))
    assert flow.run().result()[reduced].result() == [1, 2, 3]


def test_a_plain_value_in_upstream_tasks_becomes_a_constant_task():
    with Flow("f") as flow:
        result = identity(1, upstream_tasks=[3])
    (upstream,) = flow.upstream_tasks(result)
    assert isinstance(upstream, Constant)
    assert upstream.value == 3


def test_unmapped_and_flatten_show_their_value():
    assert repr(unmapped(5)) == "unmapped(5)"
    assert repr(flatten([[1]])) == "flatten([[1]])"


# ---- validation and cycles ---------------------------------------------------------------------
def test_a_two_task_cycle_is_reported_as_a_to_b_to_a():
    a, b = named("a", "b")
    flow = Flow("cyclic")
    flow.add_edge(a, b)
    flow.add_edge(b, a)
    with pytest.raises(
        CycleError, match=r"Flow 'cyclic': its tasks form a cycle: a -> b -> a\."
    ) as info:
        flow.validate()
    assert info.value.cycle == ["a", "b", "a"]


def test_running_a_cyclic_flow_fails_before_anything_runs():
    ran = []

    @task
    def a():
        ran.append("a")

    @task
    def b():
        ran.append("b")

    flow = Flow("cyclic")
    flow.add_edge(a, b)
    flow.add_edge(b, a)
    with pytest.raises(CycleError, match=r"a -> b -> a"):
        flow.run()
    assert ran == []


def test_sorted_tasks_of_a_cyclic_flow_reports_the_cycle():
    a, b, c = named("a", "b", "c")
    flow = Flow("cyclic")
    flow.add_edge(a, b)
    flow.add_edge(b, c)
    flow.add_edge(c, b)
    with pytest.raises(CycleError, match=r"b -> c -> b"):
        flow.sorted_tasks()


def test_a_self_loop_is_a_cycle():
    (a,) = named("a")
    flow = Flow("loop")
    flow.add_edge(a, a)
    with pytest.raises(CycleError, match=r"a -> a"):
        flow.validate()


def test_validate_with_set_dependencies_checks_at_once():
    a, b = named("a", "b")
    flow = Flow("f")
    flow.add_edge(a, b)
    with pytest.raises(CycleError):
        flow.set_dependencies(a, upstream_tasks=[b], validate=True)


def test_validate_reports_an_edge_to_a_task_outside_the_flow():
    a, b = named("a", "b")
    flow = Flow("f", tasks=[a])
    flow.edges.add(Edge(a, b))  # a hand-made graph, bypassing add_edge
    with pytest.raises(FlowDefinitionError, match=r"names task 'b', which is not in the flow"):
        flow.validate()


# ---- parameters ---------------------------------------------------------------------------------
@pytest.fixture
def parameter_flow(record):
    @task
    def use(x, y):
        record("ran")
        return x + y

    with Flow("params") as flow:
        result = use(Parameter("x"), Parameter("y", default=10))
    return flow, result


def test_parameters_take_run_values_or_their_defaults(parameter_flow):
    flow, result = parameter_flow
    assert flow.run(parameters={"x": 1}).result()[result].result() == 11
    assert flow.run(parameters={"x": 1, "y": 2}).result()[result].result() == 3
    assert {p.name for p in flow.parameters()} == {"x", "y"}


def test_a_missing_required_parameter_fails_before_anything_runs(parameter_flow, record):
    flow, _ = parameter_flow
    with pytest.raises(
        ParameterError,
        match=r"Flow 'params': missing required parameters 'x'\. "
        r"The flow's parameters are: 'x', 'y'",
    ):
        flow.run()
    assert record.events == []


def test_an_unknown_parameter_fails_before_anything_runs(parameter_flow, record):
    flow, _ = parameter_flow
    with pytest.raises(ParameterError, match=r"unknown parameters 'z'"):
        flow.run(parameters={"x": 1, "z": 2})
    assert record.events == []


def test_parameter_errors_are_value_errors():
    assert issubclass(ParameterError, ValueError)


def test_two_parameters_with_one_name_are_an_error():
    with (
        pytest.raises(
            FlowDefinitionError,
            match=r"Flow 'f': two different parameters are named 'x'\. Give each Parameter",
        ),
        Flow("f"),
    ):
        add(Parameter("x"), Parameter("x"))


def test_one_parameter_used_twice_is_fine():
    x = Parameter("x")
    with Flow("f") as flow:
        total = add(x, x)
    assert flow.run(parameters={"x": 2}).result()[total].result() == 4


def test_context_holds_the_run_parameters():
    import orchestrator

    @task
    def read():
        return orchestrator.context.parameters

    with Flow("f") as flow:
        Parameter("x", default=1)()
        result = read()
    assert flow.run().result()[result].result() == {"x": 1}
