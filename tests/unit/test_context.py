"""Context: the dict-like API, overrides, the config-file layer and the keys runs supply."""

from __future__ import annotations

import logging
import threading
import tomllib

import pytest

from orchestrator import Flow, context, task
from orchestrator.engine import TaskRunner
from taskrun.context import date_keys, load_config_context, reload_config


# ---- the API -------------------------------------------------------------------------------------
def test_keys_read_by_attribute_index_and_get():
    with context(a=1):
        assert (context.a, context["a"], context.get("a"), context.get("b", 2)) == (1, 1, 1, 2)
        assert "a" in context
        assert context.to_dict()["a"] == 1
        assert ("a", 1) in context.items()
        assert "a" in context.keys()  # noqa: SIM118 - keys() is part of the API under test
        assert "a" in list(context)


def test_a_missing_attribute_says_to_use_get():
    with pytest.raises(
        AttributeError, match=r"context has no key 'nope'; use context.get\('nope'\)"
    ):
        context.nope  # noqa: B018 - the access is the test


def test_a_missing_index_is_a_key_error():
    with pytest.raises(KeyError):
        context["nope"]


def test_with_context_overrides_and_restores_even_on_error():
    with context(a=1):
        seen = []

        def fail_inside() -> None:
            with context(a=2, b=3):
                seen.append((context.a, context.b))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_inside()
        assert seen == [(2, 3)]
        assert context.a == 1
        assert "b" not in context
    assert "a" not in context


def test_with_context_accepts_mappings_and_keywords():
    with context({"a": 1, "b": 1}, b=2):
        assert (context.a, context.b) == (1, 2)


def test_the_repr_shows_the_keys_but_not_the_logger():
    with context(a=1, logger=logging.getLogger("x")):
        assert repr(context) == "<Context {'a': 1}>"


def test_each_thread_starts_from_the_base_layer_not_another_threads_block():
    seen = []
    with context(a=1):
        thread = threading.Thread(target=lambda: seen.append(context.get("a")))
        thread.start()
        thread.join()
    assert seen == [None]


# ---- assignment: the current scope's keys -----------------------------------------------------
def test_assignment_by_attribute_or_index_is_seen_both_ways():
    with context():
        context.a = 1
        context["b"] = 2
        assert (context.a, context["a"], context.b, context["b"]) == (1, 1, 2, 2)
        assert context.to_dict()["a"] == 1
        assert "a" not in vars(type(context))  # no attribute left on the object
        context.update({"c": 3}, d=4)
        assert (context.c, context["d"]) == (3, 4)
        assert context.setdefault("c", 99) == 3
        assert context.setdefault("e", 5) == 5
        assert context.e == 5
        del context.a
        del context["b"]
        assert "a" not in context
        assert "b" not in context


def test_assignment_is_undone_when_the_block_exits_even_nested():
    with context(a=1):
        context.a = 2
        context.x = "outer"
        with context():
            context.a = 3
            del context.x
            context["y"] = "inner"
            assert (context.a, "x" in context, context.y) == (3, False, "inner")
        assert (context.a, context.x, "y" in context) == (2, "outer", False)
    assert "a" not in context
    assert "x" not in context


def test_deleting_a_missing_key_and_non_string_keys_are_refused():
    with context():
        with pytest.raises(AttributeError, match="context has no key 'nope' to delete"):
            del context.nope
        with pytest.raises(KeyError):
            del context["nope"]
        with pytest.raises(TypeError, match="context keys must be strings"):
            context[1] = "x"
        with pytest.raises(TypeError, match="context keys must be strings"):
            context.update({2: "x"})
        assert 1 not in context


def test_top_level_assignment_lasts_for_the_thread_only():
    seen = []

    def in_a_thread() -> None:
        context.mine = threading.current_thread().name
        seen.append((context.mine, context.get("theirs")))

    def other_thread() -> None:
        context.theirs = "other"
        seen.append((context.get("mine"), context.theirs))

    for target in (in_a_thread, other_thread):
        thread = threading.Thread(target=target, name=target.__name__)
        thread.start()
        thread.join()
    assert seen == [("in_a_thread", None), (None, "other")]
    assert "mine" not in context
    assert "theirs" not in context


def test_a_task_runs_assignment_does_not_leak_to_the_next_run():
    seen = []

    @task
    def write(i):
        seen.append(context.get("written"))
        context.written = i
        context["also"] = i
        return context.written

    with Flow("leak") as flow:
        first = write(1)
        second = write(2, upstream_tasks=[first])
    state = flow.run(task_runner="sequential")
    assert state.result()[first].result() == 1
    assert state.result()[second].result() == 2
    assert seen == [None, None]
    assert "written" not in context
    assert "also" not in context


# ---- the config-file layer -----------------------------------------------------------------------
def test_a_missing_config_file_gives_no_keys(tmp_path):
    assert load_config_context(tmp_path / "absent.toml") == {}


def test_reload_config_makes_the_files_context_table_the_base_layer(config_file):
    config_file.write_text('[context]\nteam = "data"\nretries = 3\n\n[other]\nx = 1\n')
    assert dict(reload_config()) == {"team": "data", "retries": 3}
    assert (context.team, context.retries) == ("data", 3)
    assert "x" not in context


def test_reload_config_with_an_explicit_path(tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text("[context]\nwhere = 'elsewhere'\n")
    try:
        reload_config(path)
        assert context.where == "elsewhere"
    finally:
        reload_config()
    assert "where" not in context


def test_with_blocks_keep_the_keys_they_started_with_across_a_reload(config_file):
    config_file.write_text("[context]\na = 1\n")
    reload_config()
    with context(b=2):
        config_file.write_text("[context]\na = 10\n")
        reload_config()
        assert context.a == 1
    assert context.a == 10


def test_overrides_win_over_the_config_file(config_file):
    config_file.write_text("[context]\na = 1\n")
    reload_config()
    with context(a=2):
        assert context.a == 2


def test_a_broken_config_file_names_the_file(config_file):
    config_file.write_text("[context\n")
    with pytest.raises(tomllib.TOMLDecodeError) as info:
        reload_config()
    assert str(config_file) in "".join(info.value.__notes__)


def test_a_context_entry_that_is_not_a_table_is_an_error(config_file):
    config_file.write_text("context = 3\n")
    with pytest.raises(ValueError, match=r"\[context\] must be a table, got 3"):
        reload_config()


# ---- keys supplied by runs -----------------------------------------------------------------------
def test_date_keys_shift_yesterday_and_tomorrow_with_today():
    keys = date_keys("2020-03-01")
    assert (keys["yesterday"], keys["today"], keys["tomorrow"]) == (
        "2020-02-29",
        "2020-03-01",
        "2020-03-02",
    )
    assert (keys["yesterday_nodash"], keys["today_nodash"], keys["tomorrow_nodash"]) == (
        "20200229",
        "20200301",
        "20200302",
    )


def test_a_bad_today_is_a_value_error_showing_the_expected_form():
    with pytest.raises(
        ValueError, match=r"context key 'today' must be a date like '2020-03-02', got 'soon'"
    ):
        date_keys("soon")


def test_a_bad_today_fails_the_run_before_anything_runs(record):
    @task
    def body():
        record("ran")

    with Flow("f") as flow:
        body()
    with pytest.raises(ValueError, match="context key 'today'"):
        flow.run(context={"today": "03/02/2020"})
    assert record.events == []


def test_task_runner_context_keys_reach_the_body():
    @task
    def body():
        return context.region, context.today

    assert TaskRunner(body).run(context={"region": "eu", "today": "2020-01-01"}).result() == (
        "eu",
        "2020-01-01",
    )


def test_log_stdout_sends_prints_to_the_task_logger(caplog):
    caplog.set_level(logging.INFO)

    @task(log_stdout=True)
    def chatty():
        print("hello from the task")
        print("no newline", end="")

    TaskRunner(chatty).run()
    lines = [
        (r.name, r.getMessage()) for r in caplog.records if r.name.startswith("orchestrator.Task:")
    ]
    assert lines == [
        ("orchestrator.Task: chatty", "hello from the task"),
        ("orchestrator.Task: chatty", "no newline"),
    ]
