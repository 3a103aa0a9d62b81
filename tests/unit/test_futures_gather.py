"""How a list of futures passed to a task (``total([add(i) for i in ...])``) becomes one
gathering upstream edge (``call_parts``), and which triggers see it flattened.

What a gathering run receives and which states its trigger sees, on every runner, is in
``tests/contract/test_flow_gathering.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.runs.task_calls import FutureEdge, call_parts
from orchestrator.triggers import all_finished, always_run
from taskrun.states import Success
from taskrun.triggers import flattens_upstream


def test_call_parts_gathers_a_list_into_one_ref_only_when_asked():
    def resolve(state: Any) -> tuple[Any, str]:
        return state, f"run-{state.result()}"

    states = [Success(result=i) for i in range(4)]
    gathered = call_parts({"xs": states}, None, "total", resolve, gather=True)
    (ref,) = gathered.refs
    assert ref.reduce
    assert ref.sources == tuple(states)
    assert isinstance(ref.edge, FutureEdge)
    assert ref.edge.members == ("run-0", "run-1", "run-2", "run-3")
    one_each = call_parts({"xs": states}, None, "total", resolve, gather=False)
    assert [r.sources for r in one_each.refs] == [(s,) for s in states]
    assert not any(r.reduce for r in one_each.refs)


@pytest.mark.parametrize(
    ("trigger", "ours"),
    [(all_finished, True), (always_run, True), (lambda upstream: always_run(upstream), False)],
)
def test_only_our_triggers_are_known_to_flatten(trigger, ours):
    assert flattens_upstream(trigger) is ours
