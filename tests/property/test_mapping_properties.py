"""Properties of mapping: one child per element, in order, with contiguous map indexes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator import Flow, flatten, task, unmapped
from orchestrator.task_runners import SequentialTaskRunner

SETTINGS = settings(max_examples=50, deadline=None)
values = st.lists(st.integers(min_value=-1000, max_value=1000), max_size=25)


@task
def tag(x):
    return orchestrator.context.map_index, x


@task
def pair(x, y):
    return x, y


@task
def listed(xs):
    return xs


@SETTINGS
@given(values)
def test_mapping_yields_one_child_per_element_in_order_with_contiguous_indexes(items):
    with Flow("map") as flow:
        mapped = tag.map(x=items)
        reduced = listed(mapped)
    state = flow.run(task_runner=SequentialTaskRunner())
    parent = state.result()[mapped]
    assert parent.is_mapped()
    assert len(parent.map_states) == len(items)
    assert parent.result() == list(enumerate(items))
    assert state.result()[reduced].result() == list(enumerate(items))


@SETTINGS
@given(values, values)
def test_mapping_two_arguments_zips_them_to_the_shorter(xs, ys):
    with Flow("zip") as flow:
        mapped = pair.map(x=xs, y=ys)
    assert flow.run().result()[mapped].result() == list(zip(xs, ys, strict=False))


@SETTINGS
@given(values, st.integers())
def test_an_unmapped_argument_reaches_every_child_whole(xs, fixed):
    with Flow("unmapped") as flow:
        mapped = pair.map(x=xs, y=unmapped(fixed))
    assert flow.run().result()[mapped].result() == [(x, fixed) for x in xs]


@SETTINGS
@given(st.lists(values, max_size=6))
def test_flatten_yields_one_child_per_element_of_the_concatenation(nested):
    with Flow("flatten") as flow:
        mapped = tag.map(x=flatten(nested))
    concatenated = [x for inner in nested for x in inner]
    assert flow.run().result()[mapped].result() == list(enumerate(concatenated))


@SETTINGS
@given(values)
def test_map_over_map_keeps_each_element_on_its_own_index(items):
    with Flow("chain") as flow:
        first = tag.map(x=items)
        second = tag.map(x=first)
    result = flow.run().result()[second].result()
    assert result == [(i, (i, x)) for i, x in enumerate(items)]
