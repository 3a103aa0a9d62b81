"""``TaskLike``: the orchestrator's tasks have every member the executor reads, and the
executor reads nothing else (an object with exactly those members runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator import Task, task
from orchestrator.dag.task import _INIT_ATTRIBUTES
from taskrun.context import current
from taskrun.execute import run_task
from taskrun.states import State
from taskrun.task_protocol import TaskLike

MEMBERS = sorted(name for name, value in vars(TaskLike).items() if isinstance(value, property))


@task
def add_one(x: int) -> int:
    return x + 1


def test_the_protocol_names_what_the_executor_reads() -> None:
    assert MEMBERS == [
        "log_stdout",
        "max_retries",
        "name",
        "on_failure",
        "retry_delay",
        "retry_on",
        "run",
        "skip_on_upstream_skip",
        "slug",
        "state_handlers",
        "tags",
        "timeout",
        "trigger",
    ]


def test_every_member_but_the_body_is_set_by_task_init() -> None:
    assert set(MEMBERS) - {"run"} <= _INIT_ATTRIBUTES


def test_tasks_of_every_kind_are_task_like() -> None:
    class Plus(Task):
        def run(self, x: int) -> int:
            return x + 2

    for candidate in (Task(), Plus(), add_one, add_one.copy(trigger=None)):
        assert isinstance(candidate, TaskLike), candidate


def test_an_object_missing_a_member_is_not_task_like() -> None:
    class NoTimeout:
        name, slug, tags = "no-timeout", None, None

        def run(self) -> None:
            return None

    assert not isinstance(NoTimeout(), TaskLike)


class Minimal:
    """Exactly the protocol's members (slots: reading any other attribute fails)."""

    __slots__ = (*MEMBERS, "calls")

    def __init__(self, **members: Any) -> None:
        defaults: dict[str, Any] = {
            "name": "minimal",
            "slug": None,
            "tags": None,
            "max_retries": None,
            "retry_delay": None,
            "retry_on": None,
            "timeout": None,
            "trigger": None,
            "skip_on_upstream_skip": True,
            "state_handlers": None,
            "on_failure": None,
            "log_stdout": False,
            "run": self._body,
        }
        for name, value in {**defaults, **members}.items():
            setattr(self, name, value)
        self.calls = 0

    def _body(self) -> int:
        self.calls += 1  # in this process only: a body with a timeout runs in a child
        attempt: int = current()["task_run_count"]
        if attempt == 1:
            raise ConnectionError("first attempt")
        return attempt


def test_an_object_with_only_the_members_runs_with_retries_handlers_and_empty_values() -> None:
    seen: list[str] = []

    def watch(_: Any, old: State, new: State) -> State:
        seen.append(type(new).__name__)
        return new

    minimal = Minimal(
        max_retries=1,
        retry_delay=dt.timedelta(0),
        retry_on=(ConnectionError,),
        state_handlers=[watch],
        timeout=5.0,
        tags={"b", "a"},
    )
    state = run_task(minimal, run_context={"executor_logs": False})
    assert state.is_successful(), state.message
    assert state.result() == 2
    assert seen == ["Running", "Failed", "Retrying", "Running", "Success"]


def test_empty_values_mean_the_defaults() -> None:
    """trigger None: all_successful; max_retries None: no retries; slug None: the name."""
    minimal = Minimal()
    failed = run_task(minimal, run_context={"executor_logs": False})
    assert failed.is_failed()
    assert isinstance(failed.result(raise_on_failure=False), ConnectionError)
    assert minimal.calls == 1

    def keys() -> tuple[Any, ...]:
        found = current()
        return found["task_slug"], found["task_tags"]

    assert run_task(Minimal(run=keys)).result() == ("minimal", [])
