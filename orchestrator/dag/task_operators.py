"""Task operators: Python operators on tasks in a flow build new tasks (Prefect 1's semantics).

Inside ``with Flow(...)`` (or on a task already added to a flow), an operator applied to a
task adds a task computing it from the operands' results::

    a + b, a - b, a * b, a / b, a // b, a % b, a ** b   (and 1 + a, ...)  Add, Sub, ...
    a < b, a <= b, a > b, a >= b                        LessThan, ...
    a & b                                               And (``x and y``)
    a.and_(b), a.or_(b), a.not_()                       And, Or, Not
    a.is_equal(b), a.is_not_equal(b)                    Equal, NotEqual
    a[key]                                              GetItem (``Task.__getitem__``)

``==`` and ``!=`` keep comparing task identity (flows keep tasks in sets and dicts): use
``is_equal`` / ``is_not_equal``. ``a | b`` is a state dependency, not a computation: it
makes ``b`` a downstream of ``a`` and returns ``b`` (``a | b | c`` chains three tasks).
``^`` and ``~`` are not defined, as in Prefect 1.

Also here: ``pipe`` (apply a task to this task's result), ``inputs()`` / ``outputs()``
(what ``run`` takes and returns), and ``nout``, the number of items of a task's result
that unpacking (``x, y = task()``) gives, given or read from a ``tuple[...]`` annotation.

The operator bodies are module-level functions, so a task running one pickles by
reference (no closures shipped to workers).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task


# ---- the operator bodies (each task's run) ------------------------------------------------------
def add(x: Any, y: Any) -> Any:
    return x + y


def sub(x: Any, y: Any) -> Any:
    return x - y


def mul(x: Any, y: Any) -> Any:
    return x * y


def div(x: Any, y: Any) -> Any:
    return x / y


def floor_div(x: Any, y: Any) -> Any:
    return x // y


def mod(x: Any, y: Any) -> Any:
    return x % y


def power(x: Any, y: Any) -> Any:
    return x**y


def logical_and(x: Any, y: Any) -> Any:
    return x and y


def logical_or(x: Any, y: Any) -> Any:
    return x or y


def logical_not(x: Any) -> bool:
    return not x


def equal(x: Any, y: Any) -> bool:
    return bool(x == y)


def not_equal(x: Any, y: Any) -> bool:
    return bool(x != y)


def greater_than(x: Any, y: Any) -> bool:
    return bool(x > y)


def greater_or_equal(x: Any, y: Any) -> bool:
    return bool(x >= y)


def less_than(x: Any, y: Any) -> bool:
    return bool(x < y)


def less_or_equal(x: Any, y: Any) -> bool:
    return bool(x <= y)


def infer_nout(run: Callable[..., Any], signature: inspect.Signature) -> int | None:
    """The item count a ``tuple[int, str]``-style return annotation of ``run`` declares, or
    None (no annotation, a bare ``tuple``, ``tuple[int, ...]``, or one that cannot be read).
    Cheap for the usual task (every task creation asks): strings are evaluated only when
    they name a tuple."""
    returned = signature.return_annotation
    if isinstance(returned, str):
        if not returned.replace(" ", "").lower().startswith(("tuple[", "typing.tuple[")):
            return None
        try:
            returned = typing.get_type_hints(run).get("return")
        except Exception:  # boundary: a user's annotations may name anything
            return None
    if typing.get_origin(returned) is not tuple:
        return None
    items = typing.get_args(returned)
    if not items or items[-1] is Ellipsis or items == ((),):
        return None
    return len(items)


class TaskOperators:
    """Operators, ``pipe``, ``inputs``/``outputs`` and unpacking for ``Task`` (a mixin)."""

    name: str
    nout: int | None
    signature: inspect.Signature

    def _function_task(self, fn: Callable[..., Any], name: str) -> Task:
        raise NotImplementedError  # Task builds a FunctionTask (it owns that class)

    def _resolve_flow(self, flow: Flow | None, action: str) -> Flow:
        raise NotImplementedError  # Task's: the active flow, or the one holding this task

    def _operate(self, fn: Callable[..., Any], name: str, *operands: Any) -> Task:
        """Add a task running ``fn(*operands)`` to the active flow (or this task's flow)."""
        flow = self._resolve_flow(None, f"the operator task {name}")
        return self._function_task(fn, name).bind(*operands, flow=flow)

    # ---- arithmetic, both ways round -------------------------------------------------------
    def __add__(self, other: object) -> Task:
        return self._operate(add, "Add", self, other)

    def __radd__(self, other: object) -> Task:
        return self._operate(add, "Add", other, self)

    def __sub__(self, other: object) -> Task:
        return self._operate(sub, "Sub", self, other)

    def __rsub__(self, other: object) -> Task:
        return self._operate(sub, "Sub", other, self)

    def __mul__(self, other: object) -> Task:
        return self._operate(mul, "Mul", self, other)

    def __rmul__(self, other: object) -> Task:
        return self._operate(mul, "Mul", other, self)

    def __truediv__(self, other: object) -> Task:
        return self._operate(div, "Div", self, other)

    def __rtruediv__(self, other: object) -> Task:
        return self._operate(div, "Div", other, self)

    def __floordiv__(self, other: object) -> Task:
        return self._operate(floor_div, "FloorDiv", self, other)

    def __rfloordiv__(self, other: object) -> Task:
        return self._operate(floor_div, "FloorDiv", other, self)

    def __mod__(self, other: object) -> Task:
        return self._operate(mod, "Mod", self, other)

    def __rmod__(self, other: object) -> Task:
        return self._operate(mod, "Mod", other, self)

    def __pow__(self, other: object) -> Task:
        return self._operate(power, "Pow", self, other)

    def __rpow__(self, other: object) -> Task:
        return self._operate(power, "Pow", other, self)

    def __and__(self, other: object) -> Task:
        return self._operate(logical_and, "And", self, other)

    def __rand__(self, other: object) -> Task:
        return self._operate(logical_and, "And", other, self)

    # ---- comparisons (== and != stay identity) ---------------------------------------------
    def __gt__(self, other: object) -> Task:
        return self._operate(greater_than, "GreaterThan", self, other)

    def __ge__(self, other: object) -> Task:
        return self._operate(greater_or_equal, "GreaterThanOrEqual", self, other)

    def __lt__(self, other: object) -> Task:
        return self._operate(less_than, "LessThan", self, other)

    def __le__(self, other: object) -> Task:
        return self._operate(less_or_equal, "LessThanOrEqual", self, other)

    def is_equal(self, other: object) -> Task:
        """A task returning ``self == other`` (``==`` itself compares task identity)."""
        return self._operate(equal, "Equal", self, other)

    def is_not_equal(self, other: object) -> Task:
        """A task returning ``self != other``."""
        return self._operate(not_equal, "NotEqual", self, other)

    def and_(self, other: object) -> Task:
        """A task returning ``self and other``."""
        return self._operate(logical_and, "And", self, other)

    def or_(self, other: object) -> Task:
        """A task returning ``self or other``."""
        return self._operate(logical_or, "Or", self, other)

    def not_(self) -> Task:
        """A task returning ``not self``."""
        return self._operate(logical_not, "Not", self)

    # ---- state dependencies: a | b -----------------------------------------------------------
    def __or__(self, other: object) -> object:
        """``a | b``: make ``b`` run after ``a`` (no data passed); returns ``b``."""
        self._resolve_flow(None, "|").set_dependencies(self, downstream_tasks=[other])  # type: ignore[arg-type, list-item]  # the flow refuses a non-task with its own message
        return other

    def __ror__(self, other: object) -> Task:
        """``x | b`` for a non-task ``x``: ``x`` (made a task) runs before ``b``; returns ``b``."""
        self._resolve_flow(None, "|").set_dependencies(self, upstream_tasks=[other])  # type: ignore[arg-type]  # self is a Task
        return self  # type: ignore[return-value]  # self is a Task

    # ---- composing and describing ------------------------------------------------------------
    def pipe(self, task: Any, **kwargs: Any) -> Any:
        """``task(self, **kwargs)``: call ``task`` with this task's result as its first
        argument (``load().pipe(clean).pipe(scale, factor=2)``)."""
        return task(self, **kwargs)

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Each argument of ``run``: ``{"type": annotation or Any, "required": bool,
        "default": the default or None}``."""
        described = {}
        hints = self._annotations()
        for name, parameter in self.signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            empty = parameter.default is parameter.empty
            described[name] = {
                "type": hints.get(name, Any),
                "required": empty,
                "default": None if empty else parameter.default,
            }
        return described

    def outputs(self) -> Any:
        """The return annotation of ``run`` (``Any`` when it has none)."""
        return self._annotations().get("return", Any)

    def _annotations(self) -> dict[str, Any]:
        """``run``'s annotations, string ones evaluated where they can be (else as written)."""
        raw = {
            name: p.annotation
            for name, p in self.signature.parameters.items()
            if p.annotation is not p.empty
        }
        if self.signature.return_annotation is not inspect.Signature.empty:
            raw["return"] = self.signature.return_annotation
        try:
            hints = typing.get_type_hints(getattr(self, "run"))  # noqa: B009 - run is Task's
        except Exception:  # boundary: a user's annotations may name anything
            return raw
        return {name: hints.get(name, annotation) for name, annotation in raw.items()}

    def __iter__(self) -> Iterator[Task]:
        """``x, y = task()``: one ``task[i]`` per item, for a task with ``nout``."""
        if self.nout is None:
            raise TypeError(
                f"Task {self.name!r} is not iterable: it does not say how many items its "
                f"result has. Pass nout= (e.g. @task(nout=2)) or annotate run's return type "
                f"as tuple[int, str], to unpack it (x, y = task()); or index one item with "
                f"task[key], or map over it with other.map(x=task)."
            )
        return (self[i] for i in range(self.nout))

    def __getitem__(self, key: Any) -> Task:
        raise NotImplementedError  # Task's: a GetItem task
