"""Typed flow parameters: values converted to the declared type (pydantic), or refused.

From Python (``flow.run(parameters=...)``, ``@flow`` calls, ``.run(...)``, ``.submit``)
and from ``--param`` on the command line (JSON when it parses, else text; then the
conversion), with errors naming the flow, the parameter, the type and the value.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import cloudpickle
import pydantic
import pytest

from orchestrator import Flow, Parameter, flow, task
from orchestrator.cli import main
from orchestrator.cli.loading import load_flow
from orchestrator.cli.params import check_flow_params, collect_params, param_texts
from orchestrator.dag.parameter_types import (
    ParameterType,
    ParameterTypeError,
    convert_value,
    type_name,
)
from orchestrator.errors import ParameterError
from orchestrator.runs.scheduler import check_parameters


@task
def echo(value: Any) -> Any:
    return value


class Region:
    """A plain class: annotated parameters take its instances as they are."""


class Window(pydantic.BaseModel):
    start: int
    end: int


@dataclasses.dataclass
class Span:
    low: int
    high: int


@flow(name="etl")
def etl(n: int, tag: str = "x", factor=1):
    return echo({"n": n, "tag": tag, "factor": factor})


def body(state: Any) -> Any:
    """The value a flow function's run returned through its ``echo`` task."""
    return state.result()


# ---- @flow functions: annotations ----------------------------------------------------------
def test_a_flow_call_converts_a_value_to_the_annotated_type() -> None:
    assert body(etl("8")) == {"n": 8, "tag": "x", "factor": 1}
    assert body(etl(n=3.0, tag="y")) == {"n": 3, "tag": "y", "factor": 1}


def test_a_flow_call_refuses_a_value_that_does_not_fit_naming_everything() -> None:
    with pytest.raises(ParameterTypeError) as caught:
        etl("abc")
    message = str(caught.value)
    assert message.startswith(
        "Flow 'etl': parameter 'n' expects int, got 'abc' (str): Input should be a valid integer"
    ), message
    assert (caught.value.parameter, caught.value.expected, caught.value.value) == (
        "n",
        "int",
        "abc",
    )
    assert isinstance(caught.value, ParameterError)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)


def test_run_and_submit_of_a_flow_function_convert_and_refuse_alike() -> None:
    assert body(etl.run(parameters={"n": "5"})) == {"n": 5, "tag": "x", "factor": 1}
    with pytest.raises(ParameterTypeError, match=r"parameter 'n' expects int, got 2\.5 \(float\)"):
        etl.run(parameters={"n": 2.5})
    with pytest.raises(ParameterTypeError, match=r"parameter 'tag' expects str, got 7 \(int\)"):
        etl.submit(1, tag=7)
    run = etl.submit("4")
    state = run.wait(timeout=30)
    assert state is not None
    assert body(state)["n"] == 4


def test_an_unannotated_parameter_and_the_defaults_pass_as_they_are() -> None:
    given = object()
    assert body(etl(1, factor=given))["factor"] is given
    assert body(etl(1))["tag"] == "x"


def test_a_value_already_of_the_type_is_passed_itself_not_a_copy() -> None:
    @flow
    def keep(values: list[int], mapping: dict[str, int]):
        return echo([values, mapping])

    values, mapping = [1, 2], {"a": 1}
    got_values, got_mapping = body(keep(values, mapping))
    assert got_values is values
    assert got_mapping is mapping
    assert body(keep(("1", 2), {"a": "3"})) == [[1, 2], {"a": 3}]


def test_nested_types_say_where_the_value_is_wrong() -> None:
    @flow(name="lists")
    def lists(values: list[int]):
        return echo(values)

    with pytest.raises(ParameterTypeError) as caught:
        lists([1, "x"])
    assert "expects list[int], got [1, 'x'] (list): [1]: Input should be a valid integer" in str(
        caught.value
    )


def test_classes_models_dataclasses_literals_and_optionals() -> None:
    @flow(name="shapes")
    def shapes(
        region: Region,
        window: Window,
        span: Span,
        mode: Literal["fast", "slow"] = "fast",
        limit: int | None = None,
    ):
        return echo([region, window, span, mode, limit])

    region = Region()
    got = body(shapes(region, {"start": "1", "end": 2}, {"low": 1, "high": "2"}, limit="3"))
    assert got[0] is region
    assert got[1:] == [Window(start=1, end=2), Span(1, 2), "fast", 3]
    with pytest.raises(ParameterTypeError, match=r"parameter 'region' expects .*Region, got 'x'"):
        shapes("x", {"start": 1, "end": 2}, Span(1, 2))
    with pytest.raises(
        ParameterTypeError, match=r"parameter 'mode' expects Literal\['fast', 'slow'\]"
    ):
        shapes(region, {"start": 1, "end": 2}, Span(1, 2), mode="medium")


def test_an_annotation_naming_nothing_converts_nothing() -> None:
    @flow(name="forward")
    def forward(x: NotDefinedAnywhere, y: int):  # noqa: F821
        return echo([x, y])

    assert body(forward("anything", "2")) == ["anything", 2]


def test_types_are_built_once_per_flow_and_shared_with_its_copies() -> None:
    @flow(name="once")
    def once(n: int):
        return echo(n)

    once(1)
    types = once.parameter_types
    adapter = types["n"].adapter()
    once(2)
    once.run(parameters={"n": 3})
    copy = once.with_options(name="again")
    assert copy(4).is_successful()
    assert once.parameter_types is types
    assert copy.parameter_types is types
    assert types["n"].adapter() is adapter
    assert isinstance(adapter, pydantic.TypeAdapter)


# ---- DAG flows: Parameter ------------------------------------------------------------------
def dag_with(parameter: Parameter) -> tuple[Flow, Any]:
    with Flow("dag") as dag:
        seen = echo(parameter)
    return dag, seen


def test_a_parameter_takes_its_type_from_its_default() -> None:
    dag, seen = dag_with(Parameter("count", default=1))
    assert dag.run(parameters={"count": "3"}).result()[seen].result() == 3
    assert dag.run().result()[seen].result() == 1
    with pytest.raises(ParameterTypeError) as caught:
        dag.run(parameters={"count": "abc"})
    assert str(caught.value).startswith(
        "Flow 'dag': parameter 'count' expects int, got 'abc' (str): Input should be a valid "
        "integer, unable to parse string as an integer"
    )


def test_a_parameter_with_an_explicit_type_converts_to_it() -> None:
    dag, seen = dag_with(Parameter("ids", type=list[int]))
    assert dag.run(parameters={"ids": ["1", 2]}).result()[seen].result() == [1, 2]
    with pytest.raises(ParameterTypeError, match=r"parameter 'ids' expects list\[int\]"):
        dag.run(parameters={"ids": "nope"})
    assert Parameter("ids", type=list[int]).required is True


def test_a_parameter_without_a_type_passes_any_value() -> None:
    dag, seen = dag_with(Parameter("anything"))
    value = {"x": object()}
    assert dag.run(parameters={"anything": value}).result()[seen].result() is value
    assert Parameter("p", default=None, required=False).value_type is None
    assert Parameter("p", default=[1]).value_type is None  # only scalar defaults give a type


def test_check_parameters_converts_given_values_and_keeps_defaults() -> None:
    declared = [Parameter("a", default=1.5), Parameter("b", default="x"), Parameter("c")]
    assert check_parameters("f", declared, {"a": 2, "c": "raw"}) == {"a": 2.0, "b": "x", "c": "raw"}
    with pytest.raises(ParameterTypeError, match=r"parameter 'b' expects str, got 3 \(int\)"):
        check_parameters("f", declared, {"b": 3, "c": 1})


def test_a_typed_parameter_still_pickles_and_converts_after() -> None:
    parameter = Parameter("n", default=1)
    parameter.value_type.convert("2")  # builds the adapter
    for dumps in (pickle.dumps, cloudpickle.dumps):
        copy = pickle.loads(dumps(parameter))
        assert copy.value_type.convert("5") == 5


def test_the_error_pickles_with_its_message() -> None:
    with pytest.raises(ParameterTypeError) as caught:
        convert_value("etl", "n", ParameterType(int), "abc")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.parameter == "n"


def test_type_names_read_as_written() -> None:
    assert [type_name(t) for t in (int, list[int], dict[str, float], int | None)] == [
        "int",
        "list[int]",
        "dict[str, float]",
        "int | None",
    ]


# ---- the command line ----------------------------------------------------------------------
FLOWS = """
    from orchestrator import Flow, Parameter, flow, task

    @task
    def show(value):
        print(f"value={value!r} type={type(value).__name__}")
        return value

    @flow(name="etl")
    def etl(n: int, tag: str = "x"):
        show(n)
        show(tag)

    with Flow("dag") as dag:
        show(Parameter("count", default=1))
"""


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "typed_flows.py"
    path.write_text(textwrap.dedent(FLOWS))
    return path


@pytest.mark.parametrize(
    ("target", "items", "expected"),
    [
        ("etl", ["n=8"], {"n": 8}),
        ("etl", ["n=8", "tag=8"], {"n": 8, "tag": "8"}),  # a str parameter gets the text
        ("etl", ["n=8", "tag=null"], {"n": 8, "tag": "null"}),
        ("dag", ["count=8"], {"count": 8}),
        ("dag", ['count="8"'], {"count": 8}),
    ],
)
def test_command_line_values_are_json_or_text_then_converted(
    flows_file: Path, target: str, items: list[str], expected: dict[str, Any]
) -> None:
    loaded = load_flow(f"{flows_file}:{target}")
    params = check_flow_params(loaded, collect_params(items, None), param_texts(items))
    assert params == expected
    assert [type(v) for v in params.values()] == [type(v) for v in expected.values()]


@pytest.fixture
def _log_level_kept() -> Iterator[None]:
    """``run -q`` lowers the orchestrator's log level in this process: put it back."""
    logger = logging.getLogger("orchestrator")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("_log_level_kept")
def test_run_command_converts_a_param_and_refuses_one_that_does_not_fit(
    flows_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", f"{flows_file}:etl", "-q", "--param", "n=8", "--param", "tag=8"]) == 0
    out = capsys.readouterr().out
    assert "value=8 type=int" in out
    assert "value='8' type=str" in out
    assert main(["run", f"{flows_file}:etl", "-q", "--param", "n=abc"]) == 2
    err = capsys.readouterr().err
    assert (
        "orchestrator: error: Flow 'etl': parameter 'n' expects int, got 'abc' (str): "
        "Input should be a valid integer, unable to parse string as an integer." in err
    )
    assert "--param n=VALUE with a VALUE of type int" in err
    assert main(["run", f"{flows_file}:dag", "-q", "--param", "count=abc"]) == 2
    assert "parameter 'count' expects int, got 'abc' (str)" in capsys.readouterr().err
