"""Finding flows in files and reading parameters (in-process, no subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import flow_dir_fixture  # noqa: F401 - fixtures

from orchestrator import Flow
from orchestrator.cli.loading import CommandError, load_flow
from orchestrator.cli.params import check_flow_params, collect_params, parse_value
from orchestrator.errors import ParameterError


def test_load_flow_finds_the_only_flow_in_a_file(flow_dir: Path) -> None:
    loaded = load_flow(str(flow_dir / "squares.py"))
    assert isinstance(loaded.obj, Flow)
    assert (loaded.variable, loaded.name, loaded.is_dag) == ("flow", "numbers", True)


def test_load_flow_finds_an_at_flow_function(flow_dir: Path) -> None:
    loaded = load_flow(str(flow_dir / "fn_flow.py"))
    assert (loaded.variable, loaded.name, loaded.is_dag) == ("adder", "adder", False)


def test_load_flow_lists_the_candidates_when_a_file_has_several(flow_dir: Path) -> None:
    path = str(flow_dir / "several.py")
    with pytest.raises(CommandError) as error:
        load_flow(path)
    assert str(error.value) == (
        f"{path} defines 3 flows; flows found: first (Flow 'first'), second (Flow 'second'), "
        f"third (@flow 'third'). Name one: {path}:first"
    )


def test_load_flow_picks_the_named_flow(flow_dir: Path) -> None:
    assert load_flow(f"{flow_dir / 'several.py'}:second").name == "second"
    assert load_flow(f"{flow_dir / 'several.py'}:third").is_dag is False


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("several.py:fourth", "has no variable 'fourth'; flows found: first"),
        ("several.py:one", "several.py:one is FunctionTask, not a Flow or an @flow function"),
        ("missing.py", "no such file"),
    ],
)
def test_load_flow_errors_name_the_problem(flow_dir: Path, target: str, expected: str) -> None:
    with pytest.raises(CommandError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_flow(str(flow_dir / target))


def test_load_flow_reports_an_import_error_of_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    with pytest.raises(CommandError, match=r"importing .*broken\.py' failed with ModuleNotFound"):
        load_flow(str(broken))


def test_a_file_without_flows_says_what_a_flow_is(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(CommandError, match=r"defines 0 flows; it defines none. A flow is a Flow"):
        load_flow(str(empty))


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("8", 8),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('["a", 1]', ["a", 1]),
        ('{"k": [1]}', {"k": [1]}),
        ("alice", "alice"),
        ("007", "007"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_parameter_values_are_json_when_they_parse_else_text(raw: str, value: object) -> None:
    assert parse_value(raw) == value


def test_params_file_is_read_and_param_flags_override_it(tmp_path: Path) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({"count": 2, "label": "from file"}))
    params = collect_params(["count=5", "extra=x=y"], str(params_file))
    assert params == {"count": 5, "label": "from file", "extra": "x=y"}


@pytest.mark.parametrize(
    ("items", "content", "expected"),
    [
        (["count"], None, "--param expects name=value, got 'count'"),
        (["=3"], None, "--param expects name=value, got '=3'"),
        ([], "[1, 2]", "must hold a JSON object"),
        ([], "{not json", "is not valid JSON"),
    ],
)
def test_bad_parameters_are_command_errors(
    tmp_path: Path, items: list[str], content: str | None, expected: str
) -> None:
    params_file = None
    if content is not None:
        params_file = tmp_path / "params.json"
        params_file.write_text(content)
    with pytest.raises(CommandError, match=expected):
        collect_params(items, str(params_file) if params_file else None)


def test_unknown_and_missing_parameters_of_a_flow_are_refused(flow_dir: Path) -> None:
    loaded = load_flow(str(flow_dir / "required.py"))
    check_flow_params(loaded, {"name": "ada"})
    with pytest.raises(ParameterError) as error:
        check_flow_params(loaded, {"nam": "ada"})
    assert (error.value.missing, error.value.unknown) == (["name"], ["nam"])


def test_unknown_and_missing_parameters_of_an_at_flow_function_are_refused(flow_dir: Path) -> None:
    loaded = load_flow(str(flow_dir / "fn_flow.py"))
    check_flow_params(loaded, {"values": [1], "offset": 2})
    with pytest.raises(
        ParameterError,
        match=r"Flow 'adder': missing required parameters "
        r"'values'; unknown parameters 'offst'",
    ):
        check_flow_params(loaded, {"offst": 2})


def test_a_flow_file_named_like_a_standard_module_does_not_replace_it(
    flow_dir: Path, tmp_path: Path
) -> None:
    import numbers
    import sys

    shadow = tmp_path / "numbers.py"
    shadow.write_text((flow_dir / "squares.py").read_text())
    loaded = load_flow(str(shadow))
    assert loaded.module.__name__ != "numbers"
    assert sys.modules["numbers"] is numbers
    assert sys.path.index(str(tmp_path)) > sys.path.index(str(Path(numbers.__file__).parent))
