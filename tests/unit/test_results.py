"""Results, serializers and locations, on fsspec's ``memory://`` filesystem (no disk)."""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
from pathlib import Path

import pytest

from orchestrator import Flow, Parameter, task
from orchestrator.errors import TaskDefinitionError
from orchestrator.results import (
    JSONSerializer,
    LocalResult,
    PickleSerializer,
    PrefectResult,
    Result,
    ResultReadError,
    ResultWriteError,
    StoredResult,
    TargetTemplateError,
)
from taskrun.results.fsspec_result import read_bytes
from taskrun.results.locations import format_location
from taskrun.states import Cached

_prefixes = itertools.count()


@pytest.fixture
def memory_result() -> Result:
    """A result under a fresh ``memory://`` prefix (the filesystem is per process)."""
    return Result(f"memory://unit-results-{next(_prefixes)}")


def test_a_written_value_reads_back_from_the_location_write_returned(memory_result):
    where = memory_result.write({"rows": [1, 2]}, "etl/extract.pkl")
    assert where == f"{memory_result.url}/etl/extract.pkl"
    assert memory_result.read(where) == {"rows": [1, 2]}
    assert memory_result.read("etl/extract.pkl") == {"rows": [1, 2]}


def test_exists_is_true_only_once_something_is_written(memory_result):
    assert not memory_result.exists("a.pkl")
    memory_result.write(1, "a.pkl")
    assert memory_result.exists("a.pkl")


def test_the_default_serializer_is_cloudpickle_and_handles_lambdas(memory_result):
    assert memory_result.serializer == PickleSerializer()
    memory_result.write(lambda x: x + 1, "f.pkl")
    assert memory_result.read("f.pkl")(1) == 2


def test_a_json_serializer_stores_json_text(memory_result):
    result = Result(memory_result.url, serializer=JSONSerializer())
    result.write({"a": [1, 2]}, "v.json")
    assert read_bytes(result.path("v.json")) == b'{"a": [1, 2]}'
    assert result.read("v.json") == {"a": [1, 2]}


def test_reading_a_missing_location_names_it(memory_result):
    with pytest.raises(ResultReadError, match=r"memory://unit-results-\d+/nope\.pkl.*FileNotFound"):
        memory_result.read("nope.pkl")


def test_reading_with_the_wrong_serializer_fails_with_the_location(memory_result):
    memory_result.write(object(), "obj.pkl")
    as_json = Result(memory_result.url, serializer=JSONSerializer())
    with pytest.raises(ResultReadError, match=r"obj\.pkl"):
        as_json.read("obj.pkl")


def test_a_value_the_serializer_refuses_fails_the_write_with_the_location(memory_result):
    as_json = Result(memory_result.url, serializer=JSONSerializer())
    with pytest.raises(ResultWriteError, match=r"bad\.json.*TypeError"):
        as_json.write(object(), "bad.json")


def test_an_unwritable_local_directory_fails_with_the_path_and_the_cause(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = LocalResult(dir=blocker)
    with pytest.raises(ResultWriteError, match=r"file/x\.pkl.*(NotADirectory|FileExists)"):
        result.write(1, "x.pkl")


def test_a_local_result_makes_its_directory_absolute_and_writes_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = LocalResult(dir="results")
    assert result.dir == str(tmp_path / "results")
    result.write([1], "a/b.pkl")
    assert (tmp_path / "results" / "a" / "b.pkl").is_file()
    assert not list((tmp_path / "results" / "a").glob("*.partial-*"))


def test_a_prefect_result_keeps_the_value_as_its_location():
    result = PrefectResult()
    location = result.write([1, "two"], "ignored")
    assert location == '[1, "two"]'
    assert result.read(location) == [1, "two"]
    assert result.exists(location)
    assert not result.exists("{not json")


def test_results_pickle_as_values_without_their_filesystem(memory_result):
    copy = pickle.loads(pickle.dumps(memory_result))
    assert copy == memory_result
    assert copy is not memory_result


def test_a_lazy_stored_result_reads_when_loaded_and_pickles_as_its_location(memory_result):
    where = memory_result.write("payload", "p.pkl")
    lazy = StoredResult(memory_result, where)
    assert not lazy.held
    blob = pickle.dumps(lazy)
    assert b"payload" not in blob  # only the location travels
    received = pickle.loads(blob)  # a Dask scheduler unpickles arguments: nothing is read
    assert isinstance(received, StoredResult)
    assert not received.held
    assert received.location == where
    assert Cached("hit", received).result() == "payload"  # read where the value is asked for
    assert Cached("hit", lazy).result() == "payload"


def test_a_held_stored_result_pickles_as_its_value(memory_result):
    held = StoredResult(memory_result, "memory://nowhere/x.pkl", [1, 2])
    assert pickle.loads(pickle.dumps(held)) == [1, 2]


def test_a_lazy_result_that_cannot_be_read_raises_with_the_location(memory_result):
    lazy = StoredResult(memory_result, memory_result.path("gone.pkl"))
    with pytest.raises(ResultReadError, match=r"gone\.pkl"):
        Cached("hit", lazy).result()


# ---- locations -----------------------------------------------------------------------------------
def test_a_template_formats_with_context_parameters_and_inputs():
    keys = {"flow_name": "etl", "task_name": "load", "map_index": 3, "day": "mon", "x": 1}
    assert format_location("{flow_name}/{task_name}/{map_index}-{day}-{x}.pkl", keys) == (
        "etl/load/3-mon-1.pkl"
    )


def test_a_template_naming_a_missing_key_names_it_and_lists_the_available_ones():
    with pytest.raises(TargetTemplateError) as caught:
        format_location("{flow_name}/{nope}.pkl", {"flow_name": "f", "map_index": 0}, "load")
    message = str(caught.value)
    assert "Task 'load'" in message
    assert "{nope}" in message
    assert "Available keys: flow_name, map_index" in message


def test_a_callable_template_is_called_with_the_keys():
    def where(task_name: str, map_index: int, **_: object) -> str:
        return f"{task_name}-{map_index}"

    assert format_location(where, {"task_name": "t", "map_index": 2, "other": 1}) == "t-2"


def test_result_errors_pickle_with_their_fields():
    for error in (
        ResultWriteError("file:///x", "PermissionError: no", "t"),
        ResultReadError("file:///x", "EOFError", "t"),
        TargetTemplateError("{a}", "a", ["b"], "t"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)


def test_a_pandas_serializer_round_trips_a_frame():
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from orchestrator.results import PandasSerializer

    frame = pandas.DataFrame({"a": [1, 2]})
    serializer = PandasSerializer()
    assert serializer.deserialize(serializer.serialize(frame)).equals(frame)


# ---- task options ------------------------------------------------------------------------------
def test_task_result_options_are_checked_when_the_task_is_created():
    def body() -> int:
        return 1

    with pytest.raises(TaskDefinitionError, match=r"result='results' is not a Result.*LocalResult"):
        task(body, result="results")
    with pytest.raises(TaskDefinitionError, match=r"PrefectResult.*no location a target"):
        task(body, result=PrefectResult(), target="x.json")
    with pytest.raises(TaskDefinitionError, match=r"cache_for=.*not a positive duration"):
        task(body, cache_for=-1)
    with pytest.raises(TaskDefinitionError, match=r"cache_validator=3 is not callable"):
        task(body, cache_validator=3)
    with pytest.raises(TaskDefinitionError, match=r"checkpoint='yes' is not a bool"):
        task(body, checkpoint="yes")


def test_copying_a_task_checks_and_keeps_its_result_options(tmp_path: Path):
    stored = task(lambda: 1, name="one", result=LocalResult(dir=tmp_path), cache_for=60)
    assert stored.cache_for == dt.timedelta(seconds=60)
    copy = stored.copy(target="{task_name}.pkl")
    assert (copy.result, copy.target, copy.cache_for) == (
        stored.result,
        "{task_name}.pkl",
        stored.cache_for,
    )
    with pytest.raises(TaskDefinitionError, match=r"cache_key=1 is not a string"):
        stored.copy(cache_key=1)


def test_a_flow_result_is_given_to_its_tasks_but_not_to_parameters(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    own = LocalResult(dir=tmp_path / "own")

    @task
    def plain(x: int) -> int:
        return x

    with Flow("f", result=result) as flow:
        n = Parameter("n", default=1)
        given = plain(n)
        kept = plain.copy(result=own)(n)
    assert given.result is result
    assert kept.result is own
    assert n.result is None
    assert flow.result is result


def test_layered_keys_let_later_layers_win_and_fill_missing_or_none_from_the_fallback():
    from taskrun.results.locations import LayeredKeys

    keys = LayeredKeys(({"flow_name": None, "x": 1, "day": "mon"}, {"x": 2}), {"flow_name": "f0"})
    assert format_location("{flow_name}/{day}/{x}.pkl", keys) == "f0/mon/2.pkl"
    assert sorted(keys) == ["day", "flow_name", "x"]
    with pytest.raises(
        TargetTemplateError, match=r"names \{nope\}.*Available keys: day, flow_name, x"
    ):
        format_location("{nope}.pkl", keys, "t")
