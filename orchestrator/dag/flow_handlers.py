"""Flow state handlers: user hooks called on each transition of a DAG flow run.

``handler(flow, old_state, new_state) -> State | None`` is called, in the order given,
on every transition of the flow run (Pending -> Running, then Running -> its final
state); a returned state replaces the new one, like task state handlers.
``on_failure(flow, state)`` is called when the flow run's state is failed.

A hook that raises ends the flow run ``Failed`` with a message naming the hook. The
task states computed so far stay the state's result: a broken notification never
loses work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.errors import FlowDefinitionError
from taskrun.states import Failed, State

logger = logging.getLogger("orchestrator.FlowRunner")

FlowStateHandler = Callable[[Any, State, State], "State | None"]


def check_flow_handlers(
    flow_name: str, state_handlers: Iterable[Any] | None, on_failure: Any
) -> list[FlowStateHandler]:
    """The handlers as a list; raises ``FlowDefinitionError`` for anything not callable."""
    handlers = list(state_handlers or ())
    bad = [h for h in handlers if not callable(h)]
    if bad:
        raise FlowDefinitionError(
            flow_name,
            f"state_handlers contains non-callables {bad!r}.",
            "Pass functions handler(flow, old_state, new_state) -> state.",
        )
    if on_failure is not None and not callable(on_failure):
        raise FlowDefinitionError(
            flow_name,
            f"on_failure={on_failure!r} is not callable.",
            "Pass a function on_failure(flow, state).",
        )
    return handlers


def transition(flow: Any, old: State, new: State) -> State:
    """Move the flow run from ``old`` to ``new`` through its handlers; never raises."""
    for handler in getattr(flow, "state_handlers", None) or ():
        try:
            returned = handler(flow, old, new)
        except Exception as err:  # boundary: handlers are user code
            return _handler_failed(flow, new, f"state handler {_name(handler)!r}", err)
        new = returned if isinstance(returned, State) else new
    on_failure = getattr(flow, "on_failure", None)
    if on_failure is not None and new.is_failed():
        try:
            on_failure(flow, new)
        except Exception as err:  # boundary: a user callback
            return _handler_failed(flow, new, "on_failure", err)
    return new


def _handler_failed(flow: Any, new: State, hook: str, err: Exception) -> State:
    logger.error("Flow %r: %s raised %r", flow.name, hook, err, exc_info=True)
    return Failed(
        f"Flow {flow.name!r}: {hook} raised {err!r}; the flow run is marked failed. "
        "Task states are kept as the result.",
        new.data,
    )


def _name(handler: Any) -> str:
    return str(getattr(handler, "__name__", handler))
