"""Prefect 1's task API: operators, unpacking (nout), pipe, inputs/outputs, tags,
defaults_from_attrs, optional parameters, DateTimeParameter and raise_on_exception."""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import pytest

from orchestrator import Constant, Flow, Parameter, Task, context, tags, task
from orchestrator.core.parameter import DateTimeParameter
from orchestrator.dag.parameter_types import ParameterTypeError
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Skipped
from orchestrator.errors import TaskDefinitionError
from orchestrator.task_runners import ConcurrentTaskRunner
from orchestrator.utilities.debug import raise_on_exception
from orchestrator.utilities.tasks import defaults_from_attrs


@task
def value(x: Any) -> Any:
    return x


@task(nout=2)
def pair(x: int) -> Any:
    return x, -x


def _inputs(flow: Flow, task_obj: Task) -> dict[str | None, Any]:
    """Each argument of ``task_obj``: its upstream task, or its constant value."""
    bound: dict[str | None, Any] = {e.key: e.upstream_task for e in flow.edges_to(task_obj)}
    bound.update(flow.constants.get(task_obj, {}))
    return bound


# ---- operators -------------------------------------------------------------------------------
def test_an_operator_adds_a_task_named_for_it_with_the_operands_as_inputs():
    with Flow("ops") as flow:
        a = value(1)
        total = a + 2
    assert total.name == "Add"
    assert _inputs(flow, total) == {"x": a, "y": 2}


def test_a_reversed_operator_keeps_the_operands_order():
    with Flow("ops") as flow:
        a = value(1)
        difference = 10 - a
    assert difference.name == "Sub"
    assert _inputs(flow, difference) == {"x": 10, "y": a}


def test_equality_stays_identity_so_tasks_work_in_sets():
    with Flow("ops"):
        a = value(1)
        b = a.copy()
    assert a == a
    assert a != b
    assert len({a, b, a}) == 2


def test_is_equal_and_not_build_tasks_instead():
    with Flow("ops") as flow:
        a = value(1)
        same, negated = a.is_equal(1), a.not_()
    assert (same.name, negated.name) == ("Equal", "Not")
    assert _inputs(flow, negated) == {"x": a}


def test_pipe_is_a_state_dependency_returning_the_right_hand_task():
    with Flow("ops") as flow:
        a, b, c = value(1), value(2), value(3)
        last = a | b | c
    assert last is c
    assert {(e.upstream_task, e.downstream_task, e.key) for e in flow.edges} == {
        (a, b, None),
        (b, c, None),
    }


def test_xor_is_not_an_operator_on_tasks():
    with Flow("ops"), pytest.raises(TypeError, match="unsupported operand"):
        value(1) ^ 2


def test_an_operator_outside_a_flow_says_it_needs_one():
    with pytest.raises(ValueError, match=r"Task 'value': the operator task Add needs a flow"):
        value + 1


def test_an_operator_on_a_task_of_a_built_flow_adds_to_that_flow():
    with Flow("ops") as flow:
        a = value(1)
    doubled = a * 2
    assert doubled in flow.tasks
    assert flow.run().result()[doubled].result() == 2


# ---- unpacking, pipe, inputs and outputs -------------------------------------------------------
def test_unpacking_a_task_with_nout_gives_one_item_task_each():
    with Flow("unpack") as flow:
        first, second = pair(3)
    assert (first.name, second.name) == ("pair[0]", "pair[1]")
    states = flow.run().result()
    assert (states[first].result(), states[second].result()) == (3, -3)


def test_nout_is_read_from_a_tuple_return_annotation():
    def fixed() -> tuple[int, str]:
        return 1, "a"

    def open_ended() -> tuple[int, ...]:
        return (1,)

    assert task(fixed).nout == 2
    assert task(open_ended).nout is None
    assert value.nout is None


def test_a_bad_nout_fails_at_creation():
    with pytest.raises(TaskDefinitionError, match=r"nout=0 is not a count >= 1"):
        task(nout=0)(lambda x: x)


def test_unpacking_without_nout_says_how_to_declare_it():
    with Flow("unpack"), pytest.raises(TypeError, match=r"Pass nout= \(e.g. @task\(nout=2\)\)"):
        _first, _second = value(1)


def test_pipe_calls_the_given_task_with_this_task_first():
    @task
    def scale(x, factor):
        return x * factor

    with Flow("pipe") as flow:
        scaled = value(2).pipe(scale, factor=5)
    assert flow.run().result()[scaled].result() == 10


def test_inputs_and_outputs_describe_the_run_signature():
    @task
    def load(path: str, limit: int = 10) -> list[str]:
        return []

    assert load.inputs() == {
        "path": {"type": str, "required": True, "default": None},
        "limit": {"type": int, "required": False, "default": 10},
    }
    assert load.outputs() == list[str]
    assert Task().outputs() is Any


# ---- tags ------------------------------------------------------------------------------------
def test_tasks_made_or_copied_inside_tags_blocks_get_their_tags():
    base = Task(name="base", tags=["own"])
    with tags("etl"), tags("nightly"):
        made = Task(name="made")
        with Flow("tagged"):
            called = base()
        inside = context.tags
    assert made.tags == {"etl", "nightly"}
    assert called.tags == {"own", "etl", "nightly"}
    assert base.tags == {"own"}
    assert inside == {"etl", "nightly"}
    assert Task().tags == set()
    assert "tags" not in context


def test_a_single_string_as_tags_is_refused():
    with pytest.raises(TaskDefinitionError, match=r"tags='etl' is not a collection of tags"):
        Task(tags="etl")


# ---- defaults_from_attrs ------------------------------------------------------------------
class Query(Task):
    def __init__(self, sql: str = "select 1", limit: int | None = 5, **kwargs: Any) -> None:
        self.sql, self.limit = sql, limit
        super().__init__(**kwargs)

    @defaults_from_attrs("sql", "limit")
    def run(self, sql: str | None = None, limit: int | None = None) -> tuple[Any, Any]:
        return sql, limit


def test_arguments_left_out_or_none_take_the_task_attributes():
    query = Query(sql="select 2")
    assert query.run() == ("select 2", 5)
    assert query.run(limit=None) == ("select 2", 5)
    assert query.run("select 3") == ("select 3", 5)
    assert query.run(limit=9) == ("select 2", 9)


def test_bare_defaults_from_attrs_covers_every_argument_defaulting_to_none():
    class Greet(Task):
        greeting = "hello"

        @defaults_from_attrs
        def run(self, name: str, greeting: str | None = None) -> str:
            return f"{greeting} {name}"

    assert Greet().run("ada") == "hello ada"


def test_defaults_from_attrs_naming_an_unknown_argument_is_an_error():
    with pytest.raises(TypeError, match=r"defaults_from_attrs names \['nope'\]"):

        class Broken(Task):
            @defaults_from_attrs("nope")
            def run(self, x: int | None = None) -> Any:
                return x


def test_a_task_with_attribute_defaults_binds_and_runs_in_a_flow():
    with Flow("query") as flow:
        result = Query()(limit=1)
    assert flow.run().result()[result].result() == ("select 1", 1)


# ---- parameters --------------------------------------------------------------------------
def test_a_parameter_with_default_none_is_optional():
    assert Parameter("p", default=None).required is False
    assert Parameter("p").required is True
    assert Parameter("p").default is None
    assert pickle.loads(pickle.dumps(Parameter("p"))).required is True


def test_calling_a_parameter_outside_a_flow_gives_its_value():
    assert Parameter("p", default=3)() == 3
    with context(parameters={"p": 4}):
        assert Parameter("p", default=3)() == 4


def test_a_datetime_parameter_parses_its_default_and_refuses_bad_values():
    since = DateTimeParameter("since", default="2024-01-02T03:04:05")
    assert since.default == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert repr(since) == "<DateTimeParameter: since>"
    assert DateTimeParameter("since").required is True
    with Flow("dates") as flow:
        value(DateTimeParameter("when"))
    with pytest.raises(ParameterTypeError, match=r"parameter 'when' expects datetime"):
        flow.run(parameters={"when": "not a date"})


# ---- raise_on_exception ------------------------------------------------------------------
@task
def broken() -> None:
    raise ZeroDivisionError("look here")


@task
def skipped() -> None:
    raise signals.SKIP("not today")


def test_raise_on_exception_lets_a_body_error_out_of_the_run():
    with Flow("debug") as flow:
        broken()
    with pytest.raises(ZeroDivisionError, match="look here") as caught, raise_on_exception():
        flow.run()
    assert caught.traceback[-1].name == "broken"  # the debugger lands in the task's code
    assert isinstance(flow.run().result()[next(iter(flow.tasks))], Failed)


def test_raise_on_exception_keeps_signals_as_states():
    with Flow("debug") as flow:
        result = skipped()
    with raise_on_exception():
        state = flow.run()
    assert isinstance(state.result()[result], Skipped)


def test_raise_on_exception_leaves_bodies_in_other_threads_to_their_states():
    with Flow("debug") as flow:
        result = broken()
    with raise_on_exception():
        state = flow.run(task_runner=ConcurrentTaskRunner(max_workers=1))
    assert isinstance(state.result()[result], Failed)


def test_constants_from_operators_are_constant_free_values():
    with Flow("ops") as flow:
        total = value(1) + [1, 2]  # noqa: RUF005 - a task plus a list builds an Add task
    assert not any(isinstance(t, Constant) for t in flow.upstream_tasks(total))
    assert sorted(t.name for t in flow.upstream_tasks(total)) == ["List", "value"]
