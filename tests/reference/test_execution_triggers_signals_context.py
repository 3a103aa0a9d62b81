"""Every example of ``reference/execution-triggers-signals-context.md`` on ``orchestrator``.

The document's snippets lost some indentation and bodies (``# do something
interesting`` alone is not a valid body; ``return x`` after ``raise`` is dead code).
Each is written here the way it is evidently meant, with a comment where it differs.
``random.random`` is controlled with ``monkeypatch`` so both branches run.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time

import pytest

import orchestrator
from orchestrator import Flow, task
from orchestrator.core import Edge, Task
from orchestrator.engine import TaskRunner, signals
from orchestrator.engine.state import (
    Failed,
    Paused,
    Pending,
    Resume,
    Retrying,
    Running,
    Skipped,
    Success,
    TriggerFailed,
)
from orchestrator.triggers import all_failed, all_finished, all_successful, always_run, manual_only
from taskrun.context import reload_config


@pytest.fixture(autouse=True)
def _isolated_config_layer():
    """The config layer is read at import time; re-read it now that the root conftest points
    $ORCHESTRATOR_CONFIG at a missing file, so a developer's config cannot leak in."""
    reload_config()
    yield
    reload_config()


# ---- Triggers ------------------------------------------------------------------------------------
def test_tasks_have_an_all_successful_trigger_by_default():
    @task
    def plain():
        pass

    assert plain.trigger is all_successful


def test_a_trigger_is_evaluated_only_once_every_upstream_task_is_finished():
    calls = []

    def spy(upstream_states):
        calls.append(upstream_states)
        return True

    @task(trigger=spy)
    def waits():
        return "ran"

    upstream = {Edge(Task(name="slow"), waits): Running()}
    state = TaskRunner(waits).run(upstream_states=upstream)
    assert type(state) is Pending
    assert calls == []
    upstream = {Edge(Task(name="slow"), waits): Success()}
    assert TaskRunner(waits).run(upstream_states=upstream).result() == "ran"
    assert len(calls) == 1


def test_all_finished_is_the_same_as_always_run():
    assert always_run is all_finished

    @task(trigger=always_run, skip_on_upstream_skip=False)
    def cleanup():
        return "cleaned"

    for upstream_state in (Success(), Failed(), TriggerFailed(), Skipped()):
        upstream = {Edge(Task(name="work"), cleanup): upstream_state}
        assert TaskRunner(cleanup).run(upstream_states=upstream).result() == "cleaned"


def test_an_upstream_skip_skips_the_task_before_its_trigger_is_asked():
    @task(trigger=always_run)
    def cleanup():
        return "cleaned"

    upstream = {Edge(Task(name="work"), cleanup): Skipped()}
    assert isinstance(TaskRunner(cleanup).run(upstream_states=upstream), Skipped)


def test_manual_only_pauses_the_flow_and_resume_with_start_tasks_runs_the_task():
    ran = []

    @task
    def prepare():
        return "prepared"

    @task(trigger=manual_only)
    def deploy(x):
        ran.append(x)
        return "deployed"

    with Flow("manual") as flow:
        deployed = deploy(prepare())

    paused = flow.run()
    assert paused.is_paused()
    assert isinstance(paused.result()[deployed], Paused)
    assert ran == []

    # put the task in a Resume state and make it a start task: its trigger is skipped
    resumed = flow.run(task_states={**paused.result(), deployed: Resume()}, start_tasks=[deployed])
    assert resumed.is_successful()
    assert resumed.result()[deployed].result() == "deployed"
    assert ran == ["prepared"]


@task(name="Task A")
def task_a():
    if random.random() > 0.5:
        raise ValueError("Non-deterministic error has occurred.")


@task(name="Task B", trigger=all_successful)
def task_b():
    # do something interesting
    return "B ran"


@task(name="Task C", trigger=all_failed)
def task_c():
    # do something interesting
    return "C ran"


def build_trigger_example():
    with Flow("Trigger example") as flow:
        success = task_b(upstream_tasks=[task_a])
        fail = task_c(upstream_tasks=[task_a])
    return flow, success, fail


def test_the_trigger_example_runs_task_b_when_task_a_succeeds_and_the_flow_still_fails(monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.25)
    flow, success, fail = build_trigger_example()
    state = flow.run()
    states = state.result()
    assert states[task_a].is_successful()
    assert states[success].result() == "B ran"
    assert isinstance(states[fail], TriggerFailed)
    ## note that as written, this flow will fail regardless of the path taken
    ## because *at least one* terminal task will fail
    assert state.is_failed()
    assert "'Task C'" in state.message


def test_the_trigger_example_runs_task_c_when_task_a_fails_and_the_flow_still_fails(monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 0.75)
    flow, success, fail = build_trigger_example()
    state = flow.run()
    states = state.result()
    assert isinstance(states[task_a], Failed)
    assert isinstance(states[success], TriggerFailed)
    assert states[fail].result() == "C ran"
    assert state.is_failed()
    assert "'Task B'" in state.message


@pytest.mark.parametrize(("draw", "flow_succeeds"), [(0.25, True), (0.75, False)])
def test_with_task_b_as_reference_task_its_state_alone_decides_the_flow(
    monkeypatch, draw, flow_succeeds
):
    monkeypatch.setattr(random, "random", lambda: draw)
    flow, success, _ = build_trigger_example()
    ## to fix this, we want to set Task B as the "reference task" for the Flow
    ## so that it's state uniquely determines the overall Flow state
    flow.set_reference_tasks([success])
    state = flow.run()
    assert state.is_successful() is flow_succeeds
    assert state.is_failed() is not flow_succeeds


# ---- State signals -------------------------------------------------------------------------------
def test_a_body_that_returns_succeeds_with_its_data_and_one_that_raises_fails():
    @task
    def returns():
        return {"rows": 3}

    @task
    def raises():
        raise KeyError("rows")

    assert TaskRunner(returns).run().result() == {"rows": 3}
    state = TaskRunner(raises).run()
    assert isinstance(state, Failed)
    assert state.message == "Task run encountered an exception."
    with pytest.raises(KeyError, match="rows"):
        state.result()


def retry_if_negative(x):
    if x < 0:
        raise signals.RETRY()
    return x  # the document indents this under the raise, where it could never run


def test_retry_if_negative_retries_until_the_value_is_not_negative():
    values = [-2, -1, 7]
    seen = []

    def record(obj, old_state, new_state):
        seen.append(type(new_state).__name__)
        return new_state

    @task(state_handlers=[record])
    def check():
        return retry_if_negative(values.pop(0))

    runner = TaskRunner(check)
    state = runner.run()  # a single pass, as Prefect 1's: it ends Retrying
    passes = 1
    while state.is_retrying():  # each next pass once the retry is due (RETRY waits 1 s)
        time.sleep(max(0.0, (state.start_time - dt.datetime.now(dt.UTC)).total_seconds()))
        state = runner.run(state=state)
        passes += 1
    assert state.result() == 7
    assert passes == 3
    assert seen == ["Running", "Retrying", "Running", "Retrying", "Running", "Success"]


@pytest.mark.parametrize(
    ("signal", "state_class"),
    [
        (signals.RETRY, Retrying),
        (signals.SKIP, Skipped),
        (signals.FAIL, Failed),
        (signals.SUCCESS, Success),
        (signals.PAUSE, Paused),
    ],
)
def test_each_documented_signal_becomes_its_state(signal, state_class):
    attempts = []

    @task
    def signalling():
        attempts.append(1)
        if len(attempts) == 1:
            raise signal("asked for it")
        return "second attempt"

    state = TaskRunner(signalling).run()  # one pass: after RETRY the next pass runs again
    assert type(state) is state_class
    assert state.message == "asked for it"
    assert len(attempts) == 1


def test_a_signal_raised_deep_inside_helpers_bubbles_up_past_their_return_values():
    def helper(rows):
        if not rows:
            raise signals.SKIP("no rows today")
        return len(rows)

    def wrapper(rows):
        count = helper(rows)  # the helper's normal result is trapped here
        return count * 2

    @task
    def load(rows):
        return wrapper(rows)

    state = TaskRunner(load).run(inputs={"rows": []})
    assert isinstance(state, Skipped)
    assert state.message == "no rows today"
    assert TaskRunner(load).run(inputs={"rows": [1, 2]}).result() == 4


# ---- Context -------------------------------------------------------------------------------------
def test_context_keys_are_read_by_attribute_by_index_or_with_get():
    with orchestrator.context(a=1):
        assert orchestrator.context.a == 1
        assert orchestrator.context["a"] == 1
        assert orchestrator.context.get("a") == 1


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """Point $ORCHESTRATOR_CONFIG at a file the test writes; reload the config around it."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ORCHESTRATOR_CONFIG", str(path))
    yield path
    monkeypatch.undo()
    reload_config()


def test_context_in_the_config_file_is_available_globally(config_file):
    config_file.write_text("# config.toml\n[context]\na = 1\n")
    reload_config()
    assert orchestrator.context.a == 1  # even outside a flow run

    @task
    def read_a():
        return orchestrator.context.a

    with Flow("global context") as flow:
        result = read_a()
    assert flow.run().result()[result].result() == 1


def test_orchestrator_supplied_keys_win_over_the_config_file(config_file):
    config_file.write_text('[context]\nflow_name = "from the config file"\nteam = "data"\n')
    reload_config()

    @task
    def read():
        return orchestrator.context.flow_name, orchestrator.context.team

    with Flow("real name") as flow:
        result = read()
    assert flow.run().result()[result].result() == ("real name", "data")
    assert orchestrator.context.flow_name == "from the config file"


def test_with_context_overrides_a_global_key_inside_the_block(config_file, capsys):
    config_file.write_text("[context]\na = 1\n")
    reload_config()
    with orchestrator.context(a=2):
        print(orchestrator.context.a)
    assert capsys.readouterr().out == "2\n"
    assert orchestrator.context.a == 1


@task
def try_unlock():
    if orchestrator.context.get("key") == "abc":
        return True
    raise signals.FAIL()  # the document indents this under the return


def test_modifying_context_at_runtime_turns_a_failing_run_into_a_successful_one():
    with Flow("Using Context") as flow:
        try_unlock()

    assert flow.run().is_failed()  # this run fails

    with orchestrator.context(key="abc"):
        assert flow.run().is_successful()  # this run is successful


@task
def report_start_day():
    logger = orchestrator.context.get("logger")
    logger.info(orchestrator.context.today)


def test_running_tasks_know_the_day_they_run_and_log_it(caplog):
    caplog.set_level(logging.INFO)
    with Flow("My flow") as flow:
        report_start_day()

    before = dt.datetime.now(dt.UTC).date()
    state = flow.run()
    after = dt.datetime.now(dt.UTC).date()
    assert state.is_successful()
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    logged = [m for name, m in messages if name == "orchestrator.Task: report_start_day"]
    assert logged in ([before.isoformat()], [after.isoformat()])
    text = [m for _, m in messages]
    # the document's log lines, in order
    expected = [
        "Beginning Flow run for 'My flow'",
        "Starting flow run.",
        "Task 'report_start_day': Starting task run...",
        before.isoformat() if before.isoformat() in text else after.isoformat(),
        "Task 'report_start_day': finished task run for task with final state: 'Success'",
    ]
    positions = [text.index(line) for line in expected]
    assert positions == sorted(positions)
    assert text[-1].startswith("Flow run SUCCESS: ")


def test_today_yesterday_and_tomorrow_are_supplied_during_runs():
    @task
    def dates():
        c = orchestrator.context
        return c.yesterday, c.today, c.tomorrow, c.today_nodash

    with Flow("dates") as flow:
        result = dates()
    yesterday, today, tomorrow, today_nodash = flow.run().result()[result].result()
    day = dt.date.fromisoformat(today)
    assert dt.date.fromisoformat(yesterday) == day - dt.timedelta(days=1)
    assert dt.date.fromisoformat(tomorrow) == day + dt.timedelta(days=1)
    assert today_nodash == day.strftime("%Y%m%d")


def test_overriding_today_per_flow_run_gives_a_backfill():
    @task
    def window():
        return (
            orchestrator.context.yesterday,
            orchestrator.context.today,
            orchestrator.context.tomorrow,
        )

    with Flow("backfill") as flow:
        result = window()
    for today, expected in [
        ("2020-03-02", ("2020-03-01", "2020-03-02", "2020-03-03")),
        ("2020-03-01", ("2020-02-29", "2020-03-01", "2020-03-02")),
    ]:
        assert flow.run(context={"today": today}).result()[result].result() == expected
    with orchestrator.context(today="2021-01-01"):
        assert flow.run().result()[result].result() == ("2020-12-31", "2021-01-01", "2021-01-02")


def test_other_supplied_keys_describe_the_current_flow_and_task():
    @task
    def describe():
        c = orchestrator.context
        return {
            k: c.get(k)
            for k in (
                "flow_name",
                "task_name",
                "task_full_name",
                "map_index",
                "parameters",
                "flow_run_id",
                "task_run_id",
                "date",
            )
        }

    with Flow("described") as flow:
        result = describe()
    keys = flow.run().result()[result].result()
    assert keys["flow_name"] == "described"
    assert keys["task_name"] == keys["task_full_name"] == "describe"
    assert keys["map_index"] is None
    assert keys["parameters"] == {}
    assert keys["flow_run_id"]
    assert keys["task_run_id"]
    assert isinstance(keys["date"], dt.datetime)
