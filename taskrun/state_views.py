"""How a state shows itself and its relatives: the notebook display and the class tree.

A mixin of ``taskrun.states.State``, kept apart so that ``states`` holds the values and
their rules only. ``children()``/``parents()`` are Prefect 1's class methods listing a state
class's subclasses and base state classes; ``_repr_html_`` draws a state in a notebook.
"""

from __future__ import annotations

import html
from typing import Any, ClassVar

from taskrun.deferred_result import DeferredResult
from taskrun.state_fields import StateFields
from taskrun.state_kinds import KindPredicates


def _is_state_class(klass: type) -> bool:
    """A class of the state tree (``State`` and below), not one of its mixins."""
    return issubclass(klass, StateFields) and issubclass(klass, KindPredicates)


class StateViews:
    """Display and class-tree methods of a state (no fields of its own)."""

    __slots__ = ()

    color: ClassVar[str]
    _message: str | None
    _result: Any
    name: Any
    message: Any

    def _repr_html_(self) -> str:
        """Notebook display: the name in the state's colour, the message, the result's type.

        A result that is a list with its own ``_repr_html_`` (a ``@flow`` run's task-run
        states) is drawn below, as a table.
        """
        message = "" if self.message is None else f" {html.escape(self.message)}"
        table = (
            getattr(self._result, "_repr_html_", None) if isinstance(self._result, list) else None
        )
        shown = (
            self._result.type_name
            if isinstance(self._result, DeferredResult)
            else type(self._result).__name__
        )
        kind = (
            ""
            if self._result is None or table is not None
            else (f' <span style="color:#757575">(result: {html.escape(shown)})</span>')
        )
        return (
            f'<div class="orchestrator-state">'
            f'<span style="color:{self.color};font-weight:bold">{html.escape(self.name)}</span>'
            f"<span>{message}</span>{kind}{table() if table is not None else ''}</div>"
        )

    # ---- the class tree -------------------------------------------------------------------
    @classmethod
    def children(cls, include_self: bool = False, names_only: bool = False) -> list[Any]:
        """Every subclass of this state class, depth first in definition order (Prefect 1's
        ``State.children``); ``names_only`` gives their names."""
        found: list[type] = [cls] if include_self else []
        pending = list(reversed(cls.__subclasses__()))
        while pending:
            sub = pending.pop()
            if sub not in found:
                found.append(sub)
                pending.extend(reversed(sub.__subclasses__()))
        return [c.__name__ for c in found] if names_only else found

    @classmethod
    def parents(cls, include_self: bool = False, names_only: bool = False) -> list[Any]:
        """The state classes this one derives from, nearest first, up to ``State``."""
        found = [c for c in cls.__mro__ if _is_state_class(c)]
        found = found if include_self else found[1:]
        return [c.__name__ for c in found] if names_only else found
