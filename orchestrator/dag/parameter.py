"""Parameter: a flow input, supplied per run with ``flow.run(parameters={...})``.

A parameter may declare its type (``Parameter("n", type=int)``) or take it from its
default (``Parameter("n", default=1)``); a run's value is converted to it before anything
runs (see ``parameter_types``). A parameter given no default at all is required; one given
``default=None`` is optional, its value None (Prefect 1's rule). ``DateTimeParameter``
takes ISO 8601 strings (or datetimes) and gives ``datetime`` values.

Called outside a flow, a parameter runs its body like any task: it returns the value of
the current run's parameters, else its default.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from orchestrator.dag.parameter_types import ParameterType, declared_type, inferred_type
from orchestrator.dag.task import Task
from taskrun.context import context


class _NoDefault:
    """The ``default`` of a ``Parameter`` given none (``default=None`` is a real default)."""

    def __repr__(self) -> str:
        return "no_default"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"  # one object, after pickling too


NO_DEFAULT: Any = _NoDefault()


class Parameter(Task):
    """A task whose value comes from the run's parameters (or its default).

    Parameters are added to a flow as they are, never copied, and a flow may hold
    only one parameter per name.

    Args:
        default: the value when a run gives none (not given: the parameter is required;
            ``None`` is a default like any other).
        required: whether a run must give a value (default: when no default is given).
        type: the type a run's value is converted to (pydantic's rules); default: the
            default's type when it is a ``bool``, ``int``, ``float`` or ``str``, else none
            (values pass as given).

    >>> Parameter("x", default=1)
    <Parameter: x>
    >>> Parameter("x", default=1).value_type
    ParameterType(int)
    """

    def __init__(
        self,
        name: str,
        default: Any = NO_DEFAULT,
        required: bool | None = None,
        tags: Any = None,
        *,
        type: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Parameter needs a non-empty name, got {name!r}")
        given = default is not NO_DEFAULT
        self.default = default if given else None
        self.required = not given if required is None else required
        #: the declared type (``type=``), as given
        self.type = type
        #: what a run's value is converted to (declared, or taken from the default)
        self.value_type: ParameterType | None = (
            declared_type(type) if type is not None else inferred_type(default)
        )
        super().__init__(name=name, slug=name, tags=tags)

    def __repr__(self) -> str:
        return f"<Parameter: {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Parameters are never copied: calling one in a flow adds it and returns it; outside
        any flow it returns its value, as a task call there runs the body."""
        flow = kwargs.get("flow")
        from orchestrator.dag import active

        target = flow or active.building_flow.get()
        if target is not None:
            target.add_task(self)
        elif active.running_flow.get() is None:
            return self.run()
        return self

    def copy(self, **task_args: Any) -> Task:
        if "name" in task_args and task_args["name"] != self.name:
            raise ValueError(
                f"Parameter {self.name!r}: a copy cannot be renamed; "
                f"create a new Parameter({task_args['name']!r}) instead."
            )
        return super().copy(**task_args)

    def run(self) -> Any:
        parameters = context.get("parameters") or {}
        if self.name in parameters:
            return parameters[self.name]
        if self.required:
            raise ValueError(
                f"Parameter {self.name!r} is required but no value was given; "
                f"pass parameters={{{self.name!r}: ...}}."
            )
        return self.default


class DateTimeParameter(Parameter):
    """A parameter whose value is a ``datetime``: ISO 8601 strings are parsed (pydantic's
    rules), datetimes pass as they are, and None stays None (for an optional one).

    >>> DateTimeParameter("since", default="2024-05-01T12:00:00").default
    datetime.datetime(2024, 5, 1, 12, 0)
    """

    def __init__(
        self, name: str, default: Any = NO_DEFAULT, required: bool | None = None, tags: Any = None
    ) -> None:
        super().__init__(name, default, required, tags, type=_dt.datetime | None)
        if self.default is not None and self.value_type is not None:
            self.default = self.value_type.convert(self.default)

    def __repr__(self) -> str:
        return f"<DateTimeParameter: {self.name}>"

    def run(self) -> Any:
        value = super().run()
        return value if self.value_type is None else self.value_type.convert(value)
