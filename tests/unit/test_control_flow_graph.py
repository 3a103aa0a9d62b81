"""The DAG that ``case``, ``switch``, ``ifelse``, ``merge``, resource managers and ``apply_map``
build, and the errors they raise for a misuse. No runs here (see
tests/contract/test_control_flow.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import Constant, Flow, Parameter, apply_map, case, flow, resource_manager, task
from orchestrator import flatten as flatten_marker
from orchestrator import unmapped as unmapped_marker
from orchestrator.dag.control_flow import AsBool, CompareValue, FilterTask, Merge
from orchestrator.dag.resource_manager import ResourceCleanupTask, ResourceSetupTask
from orchestrator.errors import FlowDefinitionError
from orchestrator.tasks.control_flow import ifelse, merge, switch
from orchestrator.triggers import all_finished, not_all_skipped


@task
def produce() -> int:
    return 1


@task
def consume(x: Any) -> Any:
    return x


@task
def add(x: int, y: int) -> int:
    return x + y


def _only(flow: Flow, kind: type) -> Any:
    (found,) = (t for t in flow.tasks if type(t) is kind)
    return found


def _edges(flow: Flow) -> set[tuple[str, str, str | None, bool]]:
    return {(e.upstream_task.name, e.downstream_task.name, e.key, e.mapped) for e in flow.edges}


# ---- case ---------------------------------------------------------------------------------------
def test_case_makes_its_comparison_the_upstream_of_the_block_roots_only():
    with Flow("f") as f:
        condition = produce()
        with case(condition, 1) as block:
            root = consume(2)
            chained = consume(root)
    compare = _only(f, CompareValue)
    assert compare.name == "case(1)"
    assert block.tasks == [root, chained]
    assert f.upstream_tasks(compare) == {condition}
    assert f.upstream_tasks(root) == {compare}
    assert f.upstream_tasks(chained) == {root}


def test_an_empty_case_adds_nothing():
    with Flow("f") as f:
        condition = produce()
        with case(condition, 1):
            pass
    assert f.tasks == {condition}


def test_a_task_created_before_the_case_and_used_inside_is_not_part_of_it():
    with Flow("f") as f:
        outside = produce()
        with case(produce(), 1) as block:
            inside = consume(outside)
    assert block.tasks == [inside]
    assert not any(isinstance(t, CompareValue) for t in f.upstream_tasks(outside))


def test_parameters_and_constants_made_inside_a_case_stay_roots():
    with Flow("f") as f, case(produce(), 1) as block:
        p = Parameter("p")
        c = Constant(5)
        used = consume(p, upstream_tasks=[c])
    assert block.tasks == [used]
    assert f.upstream_tasks(p) == set()
    assert f.upstream_tasks(c) == set()


def test_a_nested_case_hangs_its_comparison_below_the_outer_one():
    with Flow("f") as f:
        outer_condition, inner_condition = produce(), produce()
        with case(outer_condition, "outer") as outer, case(inner_condition, "inner") as inner:
            inner_task = consume(1)
    compares = {t.value: t for t in f.tasks if isinstance(t, CompareValue)}
    assert inner.tasks == [inner_task]
    assert outer.tasks == [compares["inner"]]  # the inner block hangs below its comparison
    assert f.upstream_tasks(inner_task) == {compares["inner"]}
    assert f.upstream_tasks(compares["inner"]) == {inner_condition, compares["outer"]}


def test_case_refuses_a_task_as_the_value():
    with Flow("f"), pytest.raises(TypeError, match="must be a constant, not a task"):
        case(produce(), produce())


def test_case_outside_a_flow_names_the_fix():
    with pytest.raises(ValueError, match=r"Open it inside `with Flow\('name'\):`"):  # noqa: SIM117
        with case(produce, 1):
            pass


def test_case_inside_a_flow_function_suggests_a_python_if():
    @flow
    def branching() -> None:
        with case(True, True):
            pass

    state = branching()
    assert state.is_failed()
    with pytest.raises(ValueError, match=r"in a @flow function.*plain Python `if`"):
        state.result()


def test_a_case_block_cannot_be_entered_twice():
    block = case(True, True)
    with Flow("f"):
        with block:
            consume(1)
        with pytest.raises(ValueError, match="already used as a block"), block:
            pass


def test_a_task_added_to_another_flow_inside_a_case_is_refused():
    other = Flow("other")
    refused = pytest.raises(FlowDefinitionError, match="which belongs to flow 'f'")
    with Flow("f"), case(True, True), refused:
        consume(1, flow=other)


# ---- switch, ifelse, merge ----------------------------------------------------------------------
def test_switch_adds_one_comparison_per_case_upstream_of_its_task():
    with Flow("f") as f:
        condition = produce()
        a, b = consume("a"), consume("b")
        switch(condition, {"a": a, "b": b})
    compares = {t.value: t for t in f.tasks if isinstance(t, CompareValue)}
    assert set(compares) == {"a", "b"}
    assert f.upstream_tasks(a) == {compares["a"]}
    assert f.upstream_tasks(b) == {compares["b"]}
    assert all(f.upstream_tasks(c) == {condition} for c in compares.values())


def test_mapped_switch_maps_the_comparisons_and_their_edges():
    with Flow("f") as f:
        a, b = consume.map([1]), consume.map([2])
        switch(produce(), {1: a, 2: b}, mapped=True)
    assert all(e.mapped for e in f.edges if isinstance(e.upstream_task, CompareValue))
    assert all(e.mapped for e in f.edges if isinstance(e.downstream_task, CompareValue))


def test_ifelse_switches_on_the_bool_of_the_condition():
    with Flow("f") as f:
        yes, no = consume(1), consume(2)
        ifelse(produce(), yes, no)
    truth = _only(f, AsBool)
    compares = {t.value: t for t in f.tasks if isinstance(t, CompareValue)}
    assert f.upstream_tasks(yes) == {compares[True]}
    assert f.upstream_tasks(no) == {compares[False]}
    assert f.upstream_tasks(compares[True]) == {truth}


def test_switch_refuses_empty_cases_and_non_task_branches():
    with Flow("f"):
        with pytest.raises(ValueError, match="non-empty dict"):
            switch(produce(), {})
        with pytest.raises(TypeError, match="the branch for 'a' must be a task"):
            switch(produce(), {"a": 1})


def test_merge_binds_its_tasks_in_order_and_runs_when_not_all_skipped():
    with Flow("f") as f:
        first, second = produce(), consume(2)
        merged = merge(first, second)
    assert isinstance(merged, Merge)
    assert merged.trigger is not_all_skipped
    assert merged.skip_on_upstream_skip is False
    assert {(e.upstream_task, e.key) for e in f.edges_to(merged)} == {
        (first, "task1"),
        (second, "task2"),
    }


def test_merge_takes_the_first_value_that_is_not_none_in_argument_order():
    values = {f"task{i}": None for i in range(1, 12)}
    values["task10"], values["task2"] = "tenth", "second"
    assert Merge().run(**values) == "second"
    assert Merge().run(task1=None) is None


def test_merge_needs_tasks_and_a_flow():
    with pytest.raises(ValueError, match=r"merge\(\) needs the tasks"):
        merge()
    with pytest.raises(ValueError, match="none is being built"):
        merge(produce)


# ---- resource managers --------------------------------------------------------------------------
@resource_manager
class Pool:
    def __init__(self, size: int) -> None:
        self.size = size

    def setup(self) -> list[int]:
        return list(range(self.size))

    def cleanup(self, pool: list[int]) -> None:
        pool.clear()


def test_a_resource_block_runs_between_setup_and_cleanup():
    with Flow("f") as f:
        with Pool(2) as pool:
            first = consume(pool)
            root = produce()
            last = consume(first)
        after = consume(last)
    setup, cleanup = _only(f, ResourceSetupTask), _only(f, ResourceCleanupTask)
    assert pool is setup
    assert f.upstream_tasks(root) == {setup}
    assert f.upstream_tasks(cleanup) >= {root, last}
    assert first not in f.upstream_tasks(cleanup)  # its downstream in the block is there
    assert f.upstream_tasks(after) == {last}
    assert {e.key for e in f.edges_to(cleanup) if e.key} == {"mgr", "resource"}


def test_the_cleanup_task_is_no_reference_task_and_its_upstream_counts_as_last():
    with Flow("f") as f, Pool(2) as pool:
        used = consume(pool)
    cleanup = _only(f, ResourceCleanupTask)
    assert f.terminal_tasks() == {cleanup}
    assert f.reference_tasks() == {used}


def test_resource_manager_takes_task_options_and_names_its_tasks():
    @resource_manager(name="cache", setup_task_kwargs={"max_retries": 0})
    class Cache:
        def setup(self) -> dict[str, int]:
            return {}

    assert repr(Cache) == "<ResourceManager: cache>"
    with Flow("f") as f, Cache():
        consume(1)
    assert {t.name for t in f.tasks} == {"cache", "cache.setup", "cache.cleanup", "consume"}


def test_a_resource_class_without_setup_is_refused():
    class NoSetup:
        pass

    with pytest.raises(TypeError, match=r"'NoSetup' has no setup\(\) method"):
        resource_manager(NoSetup)


def test_a_resource_outside_a_flow_names_the_fix():
    with pytest.raises(ValueError, match=r"with Pool\(\.\.\.\) as resource"):
        Pool(1)


def test_a_resource_inside_a_case_is_skipped_with_it():
    with Flow("f") as f, case(produce(), 1) as block, Pool(1) as pool:
        inside = consume(pool)
    init = next(t for t in f.tasks if t.name == "Pool")
    assert init in block.tasks
    assert inside in block.tasks
    assert any(isinstance(t, CompareValue) for t in f.upstream_tasks(init))


# ---- apply_map ----------------------------------------------------------------------------------
def test_apply_map_maps_edges_from_mapped_arguments_and_between_built_tasks():
    def build(x: Any, y: Any) -> Any:
        return consume(consume(x, upstream_tasks=[y]))

    with Flow("f") as f:
        xs = produce()
        y = produce()
        result = apply_map(build, xs, unmapped_marker(y))
    inner = next(iter(f.upstream_tasks(result)))
    assert {(e.upstream_task, e.mapped) for e in f.edges_to(inner)} == {(xs, True), (y, False)}
    assert [e.mapped for e in f.edges_to(result)] == [True]


def test_apply_map_keeps_constants_bound_inside_the_function():
    def build(x: Any) -> Any:
        return add(x, 10, upstream_tasks=[Constant("ordering only")])

    with Flow("f") as f:
        result = apply_map(build, [1, 2])
    assert f.constants[result] == {"y": 10}
    edges = {(e.key, type(e.upstream_task).__name__, e.mapped) for e in f.edges_to(result)}
    assert edges == {("x", "Constant", True), (None, "Constant", False)}


def test_apply_map_gives_every_root_of_the_function_the_mapped_arguments():
    with Flow("f") as f:
        xs = produce()
        result = apply_map(lambda x: produce(), xs)  # uses no argument: still one per element
    assert {(e.upstream_task, e.mapped) for e in f.edges_to(result)} == {(xs, True)}


def test_apply_map_flattens_a_flatten_argument():
    with Flow("f") as f:
        nested = produce()
        result = apply_map(consume, flatten_marker(nested))
    (edge,) = f.edges_to(result)
    assert edge.mapped
    assert edge.flattened


def test_apply_map_inside_a_case_puts_the_built_tasks_in_the_block():
    with Flow("f"), case(produce(), 1) as block:
        result = apply_map(consume, [1, 2])
    assert result in block.tasks


def test_apply_map_restores_the_flow_of_its_arguments():
    with Flow("f") as f:
        xs = produce()
        apply_map(consume, xs)
    later = consume(2, flow=f)
    later.set_upstream(xs)  # finds the flow through xs, not the gone scratch flow
    assert xs in f.upstream_tasks(later)


def test_apply_map_refuses_an_argument_it_cannot_map_over():
    with Flow("f"), pytest.raises(TypeError, match=r"argument 0 is 5, which cannot be mapped"):
        apply_map(consume, 5)


def test_apply_map_outside_a_flow_names_the_fix():
    with pytest.raises(ValueError, match=r"apply_map\(consume_twice, \.\.\.\)"):
        apply_map(consume_twice, [1])


def consume_twice(x: Any) -> Any:
    return consume(consume(x))


def test_apply_map_passes_flow_to_the_function_when_given():
    seen: list[Flow] = []

    def build(x: Any, flow: Flow) -> Any:
        seen.append(flow)
        return consume(x)

    target = Flow("target")
    result = apply_map(build, [1, 2], flow=target)
    assert result in target.tasks
    assert seen[0] is not target
    assert seen[0].name == "apply_map(build)"


# ---- FilterTask ---------------------------------------------------------------------------------
def test_filter_task_drops_nones_and_exceptions_by_default_and_runs_after_any_outcome():
    kept = FilterTask().run([1, None, ValueError("bad"), 0, "x"])
    assert kept == [1, 0, "x"]
    assert FilterTask().trigger is all_finished
    assert FilterTask().skip_on_upstream_skip is False


def test_filter_task_uses_its_filter_and_logs_what_log_func_returns(caplog):
    odd = FilterTask(
        name="odd", filter_func=lambda x: x % 2 == 1, log_func=lambda kept: f"kept {kept}"
    )
    with caplog.at_level("INFO"):
        assert odd.run([1, 2, 3]) == [1, 3]
    assert "kept [1, 3]" in caplog.text
