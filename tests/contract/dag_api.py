"""What the contract modules on the DAG API (``Flow``, ``flow.run``) share: module-level
tasks, ``NO_DELAY`` for retries and ``run``.

Tasks defined at module level travel to Dask workers by value like a user's; tests that
need a task of their own define it in the test body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator import task
from orchestrator.engine import signals
from orchestrator.engine.state import State

#: retry delay for tests that retry at once
NO_DELAY = dt.timedelta(0)


def run(flow: Any, task_runner: Any, **kwargs: Any) -> tuple[State, dict[Any, State]]:
    """Run ``flow`` on ``task_runner``; the flow run's state and its task states."""
    state = flow.run(task_runner=task_runner, **kwargs)
    return state, state.result()


@task
def fails() -> None:
    raise ValueError("upstream broke")


@task
def succeeds() -> str:
    return "ok"


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def identity(x: Any) -> Any:
    return x


@task
def numbers(n: int = 4) -> list[int]:
    return list(range(1, n + 1))


@task
def add_one(x: int) -> int:
    return x + 1


@task
def divide(x: int) -> float:
    return 1 / (x - 3)


@task
def boom(x: Any = None) -> None:
    raise ValueError("boom")


@task
def skip_odd(x: int) -> int:
    if x % 2:
        raise signals.SKIP(f"{x} is odd")
    return x
