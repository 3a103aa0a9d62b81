"""Parameter: a flow input, supplied per run with ``flow.run(parameters={...})``.

A parameter may declare its type (``Parameter("n", type=int)``) or take it from its
default (``Parameter("n", default=1)``); a run's value is converted to it before anything
runs (see ``parameter_types``).
"""

from __future__ import annotations

from typing import Any

from orchestrator.dag.parameter_types import ParameterType, declared_type, inferred_type
from orchestrator.dag.task import Task
from taskrun.context import context


class Parameter(Task):
    """A task whose value comes from the run's parameters (or its default).

    Parameters are added to a flow as they are, never copied, and a flow may hold
    only one parameter per name.

    Args:
        default: the value when a run gives none (None: the parameter is required).
        required: whether a run must give a value (default: when there is no default).
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
        default: Any = None,
        required: bool | None = None,
        tags: Any = None,
        *,
        type: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Parameter needs a non-empty name, got {name!r}")
        self.default = default
        self.required = default is None if required is None else required
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
        """Parameters are never copied: calling one returns it (after adding it to the flow)."""
        flow = kwargs.get("flow")
        from orchestrator.dag import active

        target = flow or active.building_flow.get()
        if target is not None:
            target.add_task(self)
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
