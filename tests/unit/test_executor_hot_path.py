"""The executor's shortcuts keep the observable behaviour: context keys, attempts, upstream
checks over mapped parents, state kinds, run ids and ``with context(...)`` blocks."""

from __future__ import annotations

import datetime as dt
import pickle
import uuid

from orchestrator import context, task
from orchestrator.dag.edge import Edge
from taskrun.execute import run_task
from taskrun.run_keys import new_run_id
from taskrun.states import Mapped, Pending, Running, Skipped, StateKind, Success
from taskrun.wire import TaskRunCall, UpstreamRef, execute_call


@task
def source() -> int:
    return 1


def test_a_run_id_is_a_version_4_uuid_in_the_standard_form():
    for _ in range(200):
        text = new_run_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_the_body_sees_every_task_run_key_and_the_flow_run_keys():
    seen = {}

    @task(tags=["b", "a"])
    def body() -> None:
        seen.update(context.to_dict())

    call = TaskRunCall(
        task=body, name="body-1234-3", map_index=3, run_context={"flow_name": "f", "x": 1}
    )
    with context(outer=True):
        assert execute_call(call, []).is_successful()
    assert seen["task_run_name"] == "body-1234-3"
    assert (seen["task_name"], seen["task_full_name"], seen["map_index"]) == ("body", "body[3]", 3)
    assert (seen["task_tags"], seen["task_run_count"]) == (["a", "b"], 1)
    assert uuid.UUID(seen["task_run_id"]).version == 4
    assert seen["logger"].name == "orchestrator.Task: body"
    assert (seen["flow_name"], seen["x"], seen["outer"]) == ("f", 1, True)
    assert "task_name" not in context


def test_a_task_run_id_given_in_the_run_context_is_kept():
    @task
    def body() -> str:
        return context.task_run_id

    assert run_task(body, run_context={"task_run_id": "given"}).result() == "given"


def test_each_attempt_sees_its_own_run_count_and_handlers_see_the_runs():
    counts, handler_counts = [], []

    def record(task_obj, old, new):
        handler_counts.append(context.task_run_count)
        return new

    @task(max_retries=2, retry_delay=0, state_handlers=[record])
    def flaky() -> None:
        counts.append(context.task_run_count)
        raise ValueError("again")

    assert run_task(flaky).is_failed()
    assert counts == [1, 2, 3]
    assert set(handler_counts) == {1}


def test_a_skipped_child_of_a_mapped_upstream_skips_the_downstream():
    ran = []

    @task
    def reduce(values: list[int]) -> None:
        ran.append(values)

    edge = Edge(source, reduce, key="values")
    parent = Mapped(map_states=[Success(result=1), Skipped()])
    state = run_task(reduce, {edge: parent})
    assert state.is_skipped()
    assert ran == []


def test_an_unfinished_child_of_a_mapped_upstream_keeps_the_downstream_pending():
    @task
    def reduce(values: list[int]) -> None:
        return None

    parent = Mapped(map_states=[Success(result=1), Running()])
    state = run_task(reduce, {Edge(source, reduce, key="values"): parent})
    assert type(state) is Pending
    assert "upstream tasks are not finished" in (state.message or "")


def test_a_custom_trigger_is_asked_even_when_every_upstream_succeeded():
    asked = []

    def trigger(upstream_states):
        asked.append(dict(upstream_states))
        return False

    @task(trigger=trigger)
    def after() -> None:
        return None

    edge = Edge(source, after)
    state = run_task(after, {edge: Success(result=1)})
    assert state.is_failed()
    assert asked == [{edge: Success(result=1)}]


def test_the_default_trigger_passes_with_no_upstream_and_a_custom_one_is_still_asked():
    @task(trigger=lambda upstream_states: False)
    def gated() -> None:
        return None

    assert run_task(source).result() == 1
    assert run_task(gated).is_failed()


def test_timestamps_of_a_run_never_go_backwards():
    moves = []

    def record(task_obj, old, new):
        moves.append((old.timestamp, new.timestamp))
        return new

    @task(state_handlers=[record])
    def body() -> int:
        return 2

    before = dt.datetime.now(dt.UTC)
    run_task(body)
    stamps = [moves[0][0], *(new for _, new in moves)]
    assert len(stamps) == 3
    assert before <= stamps[0] <= stamps[1] <= stamps[2]


def test_state_kinds_hash_by_identity_and_survive_pickling():
    table = {kind: kind.value for kind in StateKind}
    for kind in StateKind:
        assert table[pickle.loads(pickle.dumps(kind))] == kind.value


def test_a_context_block_takes_the_keys_current_where_it_opens():
    block = context(b=2)
    with context(a=1), block:
        assert (context.a, context.b) == (1, 2)
    assert "a" not in context


def test_context_also_decorates_a_function_and_recursive_calls_nest():
    @context(a=1)
    def depth(n: int) -> list[tuple[int, int]]:
        with context(b=n):
            inner = depth(n - 1) if n else []
            return [*inner, (context.a, context.b)]

    assert depth(2) == [(1, 0), (1, 1), (1, 2)]
    assert "a" not in context


def test_an_upstream_ref_still_feeds_a_mapped_child_its_element():
    @task
    def one(x: int) -> int:
        return x * 10

    edge = Edge(source, one, key="x", mapped=True)
    call = TaskRunCall(task=one, name="one-1", upstream=(UpstreamRef(edge, ("h",), index=1),))
    assert execute_call(call, [[Success(result=[4, 5, 6])]]).result() == 50
