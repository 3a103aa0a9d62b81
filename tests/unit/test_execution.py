"""Running flows: triggers, skips, signals, retries, timeouts and state handlers, end to end.

Every test that runs a flow takes the ``task_runner`` fixture, so it runs on the
sequential runner and on the thread pool. Retry delays are tiny.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

import orchestrator
from orchestrator import Flow, task
from orchestrator.engine import TaskRunner, signals
from orchestrator.engine.state import (
    Failed,
    Mapped,
    Paused,
    Retrying,
    Running,
    Skipped,
    Success,
    TimedOut,
    TriggerFailed,
)
from orchestrator.triggers import all_failed, any_successful, some_failed

NO_DELAY = dt.timedelta(0)


@task
def fails():
    raise ValueError("upstream broke")


@task
def succeeds():
    return "ok"


def run(flow, task_runner, **kwargs):
    state = flow.run(task_runner=task_runner, **kwargs)
    return state, state.result()


# ---- triggers in flows -------------------------------------------------------------------------
def test_a_failed_upstream_makes_a_default_trigger_task_trigger_failed_without_running_it(
    task_runner, record
):
    @task
    def b():
        record("b ran")

    with Flow("f") as flow:
        a = fails()
        downstream = b(upstream_tasks=[a])
    state, states = run(flow, task_runner)
    assert isinstance(states[a], Failed)
    assert isinstance(states[downstream], TriggerFailed)
    assert "Task 'b': trigger did not pass" in states[downstream].message
    assert "'fails'" in states[downstream].message
    assert record.events == []
    assert state.is_failed()


def test_an_all_failed_task_as_the_only_terminal_task_makes_the_flow_succeed(task_runner):
    @task(trigger=all_failed)
    def recover():
        return "recovered"

    with Flow("f") as flow:
        a = fails()
        b = recover(upstream_tasks=[a])
    state, states = run(flow, task_runner)
    assert states[a].is_failed()
    assert states[b].result() == "recovered"
    assert flow.terminal_tasks() == {b}
    assert state.is_successful()


@pytest.mark.parametrize(
    ("failures", "trigger", "runs"),
    [
        (1, some_failed(at_least=1), True),
        (1, some_failed(at_least=2), False),
        (3, some_failed(at_most=2), False),
        (2, some_failed(at_least=0.5, at_most=0.5), True),
        (3, some_failed(at_least=0.5, at_most=0.5), False),
    ],
)
def test_some_failed_counts_and_fractions_decide_in_a_flow(task_runner, failures, trigger, runs):
    @task
    def maybe(i):
        if i < failures:
            raise ValueError(i)
        return i

    @task(trigger=trigger)
    def judge():
        return "ran"

    with Flow("f") as flow:
        upstream = [maybe(i) for i in range(4)]
        verdict = judge(upstream_tasks=upstream)
    _, states = run(flow, task_runner)
    assert states[verdict].is_successful() is runs
    assert isinstance(states[verdict], Success if runs else TriggerFailed)


def test_a_skipped_upstream_skips_the_downstream_before_its_trigger_is_checked(task_runner, record):
    @task
    def skipper():
        raise signals.SKIP("nothing to do")

    def spy(upstream_states):
        record("trigger asked")
        return True

    @task(trigger=spy)
    def downstream():
        record("body ran")

    @task
    def further(x):
        record("further ran")

    with Flow("f") as flow:
        b = downstream(upstream_tasks=[skipper])
        c = further(b)
    state, states = run(flow, task_runner)
    assert isinstance(states[b], Skipped)
    assert isinstance(states[c], Skipped)  # skips propagate all the way down
    assert record.events == []
    assert state.is_successful()  # a skip is a success


def test_skip_on_upstream_skip_false_asks_the_trigger(task_runner):
    @task
    def skipper():
        raise signals.SKIP()

    @task(skip_on_upstream_skip=False, trigger=any_successful)
    def downstream():
        return "ran"

    with Flow("f") as flow:
        b = downstream(upstream_tasks=[skipper])
    _, states = run(flow, task_runner)
    assert states[b].result() == "ran"  # Skipped counts as successful


def test_success_with_a_result_passes_that_result_downstream(task_runner):
    @task
    def early():
        raise signals.SUCCESS(result=5)

    @task
    def receive(x):
        return x

    with Flow("f") as flow:
        received = receive(early())
    _, states = run(flow, task_runner)
    assert states[received].result() == 5


def test_a_failing_task_never_stops_its_siblings_or_unrelated_branches(task_runner, record):
    @task
    def step(name):
        record(name)
        return name

    with Flow("f") as flow:
        broken = fails()
        after_broken = step("after broken", upstream_tasks=[broken])
        sibling = step("sibling")
        other_branch = step(step("other branch root"))
    _, states = run(flow, task_runner)
    assert isinstance(states[after_broken], TriggerFailed)
    assert states[sibling].result() == "sibling"
    assert states[other_branch].result() == "other branch root"
    assert sorted(record.events) == ["other branch root", "other branch root", "sibling"]
    assert set(states) == flow.tasks  # every computed state is returned


def test_return_tasks_limits_the_returned_states_but_not_what_runs(task_runner, record):
    @task
    def step(name):
        record(name)
        return name

    with Flow("f") as flow:
        first = step("first")
        second = step("second", upstream_tasks=[first])
    state, states = run(flow, task_runner, return_tasks=[second])
    assert set(states) == {second}
    assert sorted(record.events) == ["first", "second"]
    assert state.is_successful()


# ---- retries -----------------------------------------------------------------------------------
def test_retry_signal_retries_beyond_max_retries(task_runner, record):
    @task(max_retries=1, retry_delay=NO_DELAY)
    def insists():
        record("attempt")
        if len(record.events) < 4:
            raise signals.RETRY("again")
        return len(record.events)

    with Flow("f") as flow:
        result = insists()
    _, states = run(flow, task_runner)
    assert states[result].result() == 4


def test_a_failing_task_is_retried_max_retries_times_then_fails(task_runner, record):
    @task(max_retries=2, retry_delay=NO_DELAY)
    def always_fails():
        record("attempt")
        raise ValueError("still broken")

    with Flow("f") as flow:
        result = always_fails()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], Failed)
    assert record.count("attempt") == 3


def test_a_trigger_failure_is_never_retried(task_runner, record):
    def counting_trigger(upstream_states):
        record("trigger")
        return False

    @task(max_retries=3, retry_delay=NO_DELAY, trigger=counting_trigger)
    def guarded():
        record("body")

    with Flow("f") as flow:
        result = guarded()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], TriggerFailed)
    assert record.events == ["trigger"]


def test_endrun_is_final(task_runner, record):
    @task(max_retries=3, retry_delay=NO_DELAY)
    def ending():
        record("attempt")
        raise signals.ENDRUN(Skipped("stopped on purpose"))

    with Flow("f") as flow:
        result = ending()
    _, states = run(flow, task_runner)
    assert type(states[result]) is Skipped
    assert states[result].message == "stopped on purpose"
    assert record.events == ["attempt"]


@pytest.mark.parametrize(("error", "attempts"), [(ConnectionError, 3), (KeyError, 1)])
def test_retry_on_retries_only_the_listed_exception_types(task_runner, record, error, attempts):
    @task(max_retries=2, retry_delay=NO_DELAY, retry_on=[ConnectionError, TimeoutError])
    def flaky():
        record("attempt")
        raise error("nope")

    with Flow("f") as flow:
        result = flaky()
    _, states = run(flow, task_runner)
    assert isinstance(states[result].result(raise_on_failure=False), error)
    assert record.count("attempt") == attempts


def test_retry_on_accepts_subclasses_of_the_listed_types():
    attempts = []

    @task(max_retries=1, retry_delay=NO_DELAY, retry_on=OSError)
    def flaky():
        attempts.append(1)
        raise ConnectionError("a kind of OSError")

    TaskRunner(flaky).run()
    assert len(attempts) == 2


def test_retry_delay_waits_and_runs_again_within_the_same_flow_run(task_runner):
    started: list[float] = []

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.05))
    def flaky():
        started.append(time.monotonic())
        if len(started) < 3:
            raise ConnectionError("try later")
        return "third time lucky"

    with Flow("f") as flow:
        result = flaky()
    state, states = run(flow, task_runner)
    assert states[result].result() == "third time lucky"
    assert state.is_successful()
    gaps = [later - earlier for earlier, later in itertools.pairwise(started)]
    assert len(gaps) == 2
    assert all(gap >= 0.05 for gap in gaps)  # a lower bound only: the delay was honoured


def test_retrying_states_carry_the_attempt_count_and_when_the_next_attempt_is_due():
    seen = []

    def watch(obj, old, new):
        seen.append(new)
        return new

    attempts = []

    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.01), state_handlers=[watch])
    def flaky():
        attempts.append(orchestrator.context.task_run_count)
        if len(attempts) == 1:
            raise ValueError("first")

    before = dt.datetime.now(dt.UTC)
    TaskRunner(flaky).run()
    assert [type(s).__name__ for s in seen] == [
        "Running",
        "Failed",
        "Retrying",
        "Running",
        "Success",
    ]
    retrying = seen[2]
    assert isinstance(retrying, Retrying)
    assert retrying.run_count == 1
    assert retrying.start_time >= before + dt.timedelta(seconds=0.01)
    assert attempts == [1, 2]  # context.task_run_count counts attempts


# ---- timeouts ----------------------------------------------------------------------------------
def test_a_task_that_runs_past_its_timeout_is_timed_out(task_runner):
    @task(timeout=0.05)
    def slow():
        time.sleep(0.3)

    with Flow("f") as flow:
        result = slow()
    state, states = run(flow, task_runner)
    assert isinstance(states[result], TimedOut)
    assert states[result].is_failed()
    assert "Task 'slow' timed out after 0.05 seconds" in states[result].message
    assert isinstance(states[result].result(raise_on_failure=False), TimeoutError)
    assert state.is_failed()


def test_a_timed_out_task_is_retried():
    attempts = []

    @task(timeout=0.05, max_retries=1, retry_delay=NO_DELAY)
    def slow_then_fast():
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(0.3)
        return "fast"

    assert TaskRunner(slow_then_fast).run().result() == "fast"


def test_a_task_within_its_timeout_keeps_its_context():
    @task(timeout=5)
    def reads_context():
        return orchestrator.context.task_name

    assert TaskRunner(reads_context).run().result() == "reads_context"


# ---- task state handlers -------------------------------------------------------------------------
def test_state_handlers_see_running_then_success(task_runner):
    seen = []

    def handler(obj, old, new):
        seen.append((obj.name, type(old).__name__, type(new).__name__))
        return new

    @task(state_handlers=[handler])
    def work():
        return 1

    with Flow("f") as flow:
        work()
    run(flow, task_runner)
    assert seen == [("work", "Pending", "Running"), ("work", "Running", "Success")]


def test_a_state_handler_may_replace_the_new_state():
    def censor(obj, old, new):
        return new.with_result("hidden") if new.is_successful() else new

    @task(state_handlers=[censor])
    def secret():
        return "password"

    assert TaskRunner(secret).run().result() == "hidden"


def test_a_raising_state_handler_fails_the_task_and_is_not_retried(task_runner, record):
    def breaks_on_success(obj, old, new):
        if new.is_successful():
            raise RuntimeError("handler broke")
        return new

    @task(max_retries=2, retry_delay=NO_DELAY, state_handlers=[breaks_on_success])
    def work():
        record("body")
        return 1

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], Failed)
    assert "state handler 'breaks_on_success' raised RuntimeError('handler broke')" in (
        states[result].message
    )
    assert record.events == ["body"]


def test_on_failure_fires_once_per_failed_attempt_and_never_on_success(task_runner, record):
    @task(
        max_retries=2,
        retry_delay=NO_DELAY,
        on_failure=lambda t, state: record(("on_failure", t.name, type(state).__name__)),
    )
    def flaky():
        record("attempt")
        if record.count("attempt") < 3:
            raise ValueError("not yet")
        return "done"

    with Flow("f") as flow:
        result = flaky()
    _, states = run(flow, task_runner)
    assert states[result].result() == "done"
    assert record.events == ["attempt", ("on_failure", "flaky", "Failed")] * 2 + ["attempt"]


def test_a_raising_on_failure_fails_the_task_naming_it():
    def broken(t, state):
        raise OSError("pager is down")

    @task(on_failure=broken)
    def work():
        raise ValueError("x")

    state = TaskRunner(work).run()
    assert "Task 'work': on_failure raised OSError('pager is down')" in state.message


def test_on_failure_fires_for_a_trigger_failure_too():
    calls = []

    @task(on_failure=lambda t, state: calls.append(type(state).__name__))
    def downstream():
        pass

    with Flow("f") as flow:
        downstream(upstream_tasks=[fails])
    flow.run()
    assert calls == ["TriggerFailed"]


# ---- flow state handlers -------------------------------------------------------------------------
def test_flow_state_handlers_see_running_then_the_final_state(task_runner):
    seen = []

    def handler(flow, old, new):
        seen.append((flow.name, type(old).__name__, type(new).__name__))
        return new

    with Flow("watched", state_handlers=[handler]) as flow:
        succeeds()
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert seen == [("watched", "Pending", "Running"), ("watched", "Running", "Success")]


def test_flow_on_failure_fires_only_for_a_failed_flow_run():
    calls = []
    with Flow("failing", on_failure=lambda flow, state: calls.append(flow.name)) as failing:
        fails()
    with Flow("passing", on_failure=lambda flow, state: calls.append(flow.name)) as passing:
        succeeds()
    failing.run()
    passing.run()
    assert calls == ["failing"]


def test_a_raising_flow_handler_fails_the_flow_run_but_keeps_the_task_states():
    def notify(flow, old, new):
        if new.is_finished():
            raise ConnectionError("chat is down")
        return new

    with Flow("notified", state_handlers=[notify]) as flow:
        result = succeeds()
    state = flow.run()
    assert state.is_failed()
    assert "Flow 'notified': state handler 'notify' raised ConnectionError('chat is down')" in (
        state.message
    )
    assert state.result()[result].result() == "ok"


def test_a_flow_handler_raising_before_the_run_starts_runs_nothing(record):
    def refuse(flow, old, new):
        raise PermissionError("not today")

    @task
    def work():
        record("ran")

    with Flow("refused", state_handlers=[refuse]) as flow:
        work()
    state = flow.run()
    assert state.is_failed()
    assert record.events == []


def test_flow_handlers_must_be_callable():
    from orchestrator.errors import FlowDefinitionError

    with pytest.raises(
        FlowDefinitionError, match=r"Flow 'f': state_handlers contains non-callables"
    ):
        Flow("f", state_handlers=["print"])
    with pytest.raises(FlowDefinitionError, match=r"Flow 'f': on_failure='x' is not callable"):
        Flow("f", on_failure="x")


def test_a_flow_copy_keeps_its_handlers():
    def handler(flow, old, new):
        return new

    assert Flow("f", state_handlers=[handler]).copy().state_handlers == [handler]


# ---- the flow state ----------------------------------------------------------------------------
def test_a_flow_with_no_tasks_succeeds():
    assert Flow("empty").run().is_successful()


def test_the_flow_state_names_the_failed_reference_tasks(task_runner):
    with Flow("f") as flow:
        fails()
        succeeds()
    state = flow.run(task_runner=task_runner)
    assert isinstance(state, Failed)
    assert state.message == "Some reference tasks failed: 'fails'."


def test_a_non_terminal_failure_with_a_recovering_terminal_task_is_a_success(task_runner):
    @task(trigger=all_failed)
    def cleanup():
        return "cleaned"

    with Flow("f") as flow:
        cleanup(upstream_tasks=[fails])
    assert flow.run(task_runner=task_runner).is_successful()


def test_a_given_finished_state_is_kept_and_its_result_used(task_runner, record):
    @task
    def expensive():
        record("expensive ran")
        return 1

    @task
    def cheap(x):
        return x + 1

    with Flow("f") as flow:
        a = expensive()
        b = cheap(a)
    _, states = run(flow, task_runner, task_states={a: Success(result=41)})
    assert states[b].result() == 42
    assert record.events == []


def test_a_paused_flow_run_returns_at_once_with_the_task_paused():
    from orchestrator.triggers import manual_only

    @task(trigger=manual_only)
    def approve():
        return "approved"

    with Flow("f") as flow:
        result = approve()
    state = flow.run()
    assert state.is_paused()
    assert isinstance(state.result()[result], Paused)


def test_a_body_runs_in_the_flows_context_overrides(task_runner):
    @task
    def read():
        return orchestrator.context.get("region")

    with Flow("f") as flow:
        result = read()
    _, states = run(flow, task_runner, context={"region": "eu"})
    assert states[result].result() == "eu"


def test_flow_and_task_run_keys_are_set_in_the_body(task_runner):
    @task
    def describe():
        c = orchestrator.context
        return c.flow_name, c.task_name, c.flow_run_name, c.task_run_name

    with Flow("described") as flow:
        result = describe()
    _, states = run(flow, task_runner)
    flow_name, task_name, flow_run_name, task_run_name = states[result].result()
    assert (flow_name, task_name) == ("described", "describe")
    assert flow_run_name.count("-") == 1
    assert task_run_name.startswith("describe-")


def test_running_state_is_shown_to_handlers_only_while_the_body_runs():
    seen = []

    def handler(obj, old, new):
        seen.append(new)
        return new

    @task(state_handlers=[handler])
    def work():
        assert isinstance(seen[-1], Running)
        return 1

    assert TaskRunner(work).run().result() == 1


# ---- the engine entry points -------------------------------------------------------------------
def test_flow_runner_runs_a_flow_like_flow_run(task_runner):
    from orchestrator.engine import FlowRunner

    with Flow("f") as flow:
        result = succeeds()
    state = FlowRunner(flow=flow).run(task_runner=task_runner)
    assert state.is_successful()
    assert state.result()[result].result() == "ok"


def test_task_runner_passes_data_edges_and_inputs_as_arguments():
    from orchestrator.core import Edge, Task

    @task
    def add(x, y):
        return x + y

    upstream = {Edge(Task(name="a"), add, key="x"): Success(result=1)}
    assert TaskRunner(task=add).run(upstream_states=upstream, inputs={"y": 2}).result() == 3


def test_task_runner_starts_from_a_given_state():
    from orchestrator.engine.state import Resume
    from orchestrator.triggers import manual_only

    @task(trigger=manual_only)
    def approve():
        return "approved"

    assert isinstance(TaskRunner(approve).run(), Paused)
    assert TaskRunner(approve).run(state=Resume()).result() == "approved"
    assert TaskRunner(approve).run(state=Success(result="earlier")).result() == "earlier"


def test_a_concurrent_runner_object_can_serve_several_flow_runs():
    from orchestrator.task_runners import ConcurrentTaskRunner

    runner = ConcurrentTaskRunner(max_workers=2)
    with Flow("f") as flow:
        result = succeeds()
    for _ in range(2):
        assert flow.run(task_runner=runner).result()[result].result() == "ok"


def test_a_given_mapped_state_feeds_mapped_children_pairwise_and_reducers_whole(
    task_runner, record
):
    @task
    def produce(x):
        record("produce ran")
        return x

    @task
    def double(x):
        return 2 * x

    @task
    def collect(xs):
        return xs

    with Flow("f") as flow:
        a = produce.map(x=[0, 0, 0])
        doubled = double.map(x=a)
        collected = collect(a)
    given = Mapped(
        map_states=[Success(result=1), Failed(result=ValueError("x")), Success(result=3)]
    )
    _, states = run(flow, task_runner, task_states={a: given})
    assert record.events == []
    children = states[doubled].map_states
    assert [type(c) for c in children] == [Success, TriggerFailed, Success]
    assert (children[0].result(), children[2].result()) == (2, 6)
    assert isinstance(states[collected], TriggerFailed)
