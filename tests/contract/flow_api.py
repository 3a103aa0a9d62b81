"""The tasks the ``@flow`` contract modules share (``test_flow_final_states``,
``test_flow_futures``): small module-level tasks called inside ``@flow`` bodies.
"""

from __future__ import annotations

from typing import Any

from orchestrator import task


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def fail(message: str = "boom") -> None:
    raise ValueError(message)


@task
def identity(value: Any) -> Any:
    return value
