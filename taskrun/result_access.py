"""``state.result``: the method SPEC fixes, with a hint for Prefect 1's attribute habit.

In Prefect 1 a state's result is an attribute (``flow_state.result[task]``); here it is the
method ``state.result()`` (SPEC's one deviation). A plain method would answer the old habit
with Python's "'method' object is not subscriptable", which does not say what to type; this
descriptor returns a small bound object instead: calling it is ``state.read_result(...)``,
indexing or iterating it raises a ``TypeError`` that shows the right spelling (comparison
and truth keep Python's defaults: containers and tools compare attributes generically).

The engine itself never goes through the descriptor: its hot paths call
``State.read_result`` directly, so the extra ~0.1 µs of the bound object is paid only where a
user writes ``state.result()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from taskrun.states import State

_HINT = (
    "A state's result is a method here, not an attribute: write {spelling}. "
    "(Prefect 1 spelled it `state.result[task]`; in orchestrator `state.result()` returns "
    "the value, and for a flow state the dict of task states.)"
)


class BoundResult:
    """``state.result`` before the call: call it for the value (``state.result()``)."""

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    def __call__(self, raise_on_failure: bool = True) -> Any:
        return self._state.read_result(raise_on_failure)

    def __getitem__(self, key: Any) -> Any:
        raise TypeError(_HINT.format(spelling="`state.result()[task]`"))

    def __iter__(self) -> Any:
        raise TypeError(_HINT.format(spelling="`state.result()` and iterate over that"))

    def __repr__(self) -> str:
        return f"<bound result of {self._state!r}: call it, state.result()>"


class ResultAccessor:
    """The ``result`` attribute of every state class (a non-data descriptor)."""

    __slots__ = ()

    @overload
    def __get__(self, state: None, owner: type) -> ResultAccessor: ...

    @overload
    def __get__(self, state: State, owner: type) -> BoundResult: ...

    def __get__(self, state: State | None, owner: type) -> BoundResult | ResultAccessor:
        if state is None:
            return self
        return BoundResult(state)
