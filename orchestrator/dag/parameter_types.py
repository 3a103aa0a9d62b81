"""Typed flow parameters: a run's values converted to the type each parameter declares.

A parameter declares a type by its annotation (``@flow def etl(n: int)``), by
``Parameter("n", type=int)``, or by its default (``Parameter("n", default=1)``: a ``bool``,
``int``, ``float`` or ``str`` default). Values are validated and converted with pydantic's
rules (lax mode: ``"8"`` becomes ``8`` for an ``int``, ``"abc"`` is refused); a value that
does not fit raises ``ParameterTypeError`` before anything runs, naming the flow, the
parameter, the expected type and the value. An unannotated parameter (or one annotated
``Any`` or ``object``) is passed through as it is.

Each ``ParameterType`` builds its ``pydantic.TypeAdapter`` once, on first use, and keeps it:
a flow's types are worked out once per flow (or parameter), not per run.

>>> ParameterType(int).convert("8")
8
>>> convert_value("etl", "n", ParameterType(int), "abc")
Traceback (most recent call last):
...
orchestrator.dag.parameter_types.ParameterTypeError: Flow 'etl': parameter 'n' expects int, \
got 'abc' (str): Input should be a valid integer, unable to parse string as an integer.
"""

from __future__ import annotations

import inspect
import logging
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.errors import ParameterError

logger = logging.getLogger("orchestrator.parameters")

#: defaults whose type a ``Parameter`` without ``type=`` takes as its own
INFERRED_FROM_DEFAULT = (bool, int, float, str)

#: the parameter kinds a flow call binds by name (not ``*args`` / ``**kwargs``)
_NAMED_KINDS = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)


class ParameterTypeError(ParameterError, TypeError):
    """A flow parameter's value does not fit the parameter's declared type."""

    def __init__(
        self, flow_name: str, parameter: str, expected: str, value: Any, problem: str
    ) -> None:
        Exception.__init__(self, flow_name, parameter, expected, value, problem)
        self.flow_name, self.parameter, self.expected = flow_name, parameter, expected
        self.value, self.problem = value, problem
        self.missing, self.unknown, self.known = [], [], [parameter]

    def __str__(self) -> str:
        return (
            f"Flow {self.flow_name!r}: parameter {self.parameter!r} expects {self.expected}, "
            f"got {_shown_value(self.value)} ({type(self.value).__name__}): {self.problem}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            ParameterTypeError,
            (self.flow_name, self.parameter, self.expected, self.value, self.problem),
        )


class ParameterType:
    """One parameter's declared type, with the pydantic adapter that converts values to it.

    The adapter is built on first use and kept; it is not pickled (a copy builds its own).
    An annotation pydantic cannot build a schema for converts nothing (values pass as given).
    """

    __slots__ = ("_adapter", "annotation")

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self._adapter: Any = None

    @property
    def name(self) -> str:
        """The type as a person writes it: ``int``, ``list[int]``, ``Literal['a', 'b']``."""
        return type_name(self.annotation)

    def convert(self, value: Any) -> Any:
        """``value`` converted to the type; raises ``pydantic.ValidationError`` if it cannot be.

        A value that is already of the type, unchanged, is returned itself (not a copy).
        """
        adapter = self.adapter()
        if adapter is False:
            return value
        converted = adapter.validate_python(value)
        return value if _unchanged(value, converted) else converted

    def adapter(self) -> Any:
        """The ``pydantic.TypeAdapter`` (``False`` when pydantic cannot handle the type)."""
        if self._adapter is None:
            self._adapter = _build_adapter(self.annotation)
        return self._adapter

    def __getstate__(self) -> dict[str, Any]:
        return {"annotation": self.annotation}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.annotation, self._adapter = state["annotation"], None

    def __repr__(self) -> str:
        return f"ParameterType({self.name})"


def declared_type(annotation: Any) -> ParameterType | None:
    """The ``ParameterType`` of an annotation; None when it declares nothing to convert to."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return None
    if annotation is Any or annotation is object:
        return None
    return ParameterType(annotation)


def inferred_type(default: Any) -> ParameterType | None:
    """The type a ``Parameter`` takes from its default: ``bool``, ``int``, ``float``, ``str``."""
    kind = type(default)
    return ParameterType(kind) if kind in INFERRED_FROM_DEFAULT else None


def convert_value(
    flow_name: str,
    name: str,
    declared: ParameterType | None,
    value: Any,
    text: str | None = None,
) -> Any:
    """``value`` converted to ``declared`` (unchanged when None).

    Args:
        text: the value as typed on the command line, tried when ``value`` (its JSON
            reading) does not fit: ``--param tag=8`` gives the ``str`` parameter ``"8"``.

    Raises:
        ParameterTypeError: neither ``value`` nor ``text`` fits the type.
    """
    if declared is None:
        return value
    from pydantic import ValidationError

    try:
        return declared.convert(value)
    except ValidationError as err:
        if text is not None and text is not value:
            try:
                return declared.convert(text)
            except ValidationError:
                pass
        raise ParameterTypeError(
            flow_name, name, declared.name, value, validation_problem(err)
        ) from None


def convert_values(
    flow_name: str,
    types: Mapping[str, ParameterType | None],
    values: Mapping[str, Any],
    texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every value converted to its parameter's type (names without a type pass as given)."""
    texts = texts or {}
    return {
        name: convert_value(flow_name, name, types.get(name), value, texts.get(name))
        for name, value in values.items()
    }


def signature_types(
    fn: Callable[..., Any], signature: inspect.Signature
) -> dict[str, ParameterType]:
    """The declared types of a flow function's named parameters, by name.

    String annotations (``from __future__ import annotations``) are evaluated in the
    function's module; one that cannot be (a name defined nowhere) converts nothing.
    """
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # boundary: one bad annotation must not hide the others
        hints = {}
    found: dict[str, ParameterType] = {}
    for name, param in signature.parameters.items():
        if param.kind not in _NAMED_KINDS:
            continue
        annotation = hints.get(name, param.annotation)
        if isinstance(annotation, str):
            annotation = _evaluate(annotation, fn)
        declared = declared_type(annotation)
        if declared is not None:
            found[name] = declared
    return found


def validation_problem(err: Any) -> str:
    """What a ``pydantic.ValidationError`` says, in one line: ``[0]: Input should be ...``."""
    parts = []
    for error in err.errors(include_url=False)[:3]:
        where = "".join(f"[{part!r}]" for part in error.get("loc", ()))
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = err.error_count() - len(parts)
    text = "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return text.rstrip(".") + "."


def type_name(annotation: Any) -> str:
    """``int``, ``list[int]``, ``int | None``, ``Literal['a']`` (no ``typing.`` prefixes).

    >>> [type_name(t) for t in (int, list[int], int | None, typing.Optional[str])]
    ['int', 'list[int]', 'int | None', 'Optional[str]']
    """
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return re.sub(r"\btyping(_extensions)?\.", "", repr(annotation))


def _build_adapter(annotation: Any) -> Any:
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter

    try:
        try:  # instances of plain classes are checked with isinstance
            return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
        except PydanticUserError as err:
            if err.code != "type-adapter-config-unused":
                raise
            return TypeAdapter(annotation)  # a model or dataclass brings its own config
    except Exception:  # boundary: an annotation pydantic cannot handle converts nothing
        logger.debug("No conversion for parameters annotated %r", annotation, exc_info=True)
        return False


def _evaluate(annotation: str, fn: Callable[..., Any]) -> Any:
    """A string annotation evaluated in ``fn``'s module; ``empty`` when it cannot be."""
    namespace = dict(getattr(fn, "__globals__", {}))
    try:
        return eval(annotation, namespace)  # what typing.get_type_hints does, one at a time
    except Exception:
        logger.debug("Parameter annotation %r cannot be evaluated", annotation, exc_info=True)
        return inspect.Parameter.empty


def _unchanged(value: Any, converted: Any) -> bool:
    if converted is value:
        return True
    if type(converted) is not type(value):
        return False
    try:
        return bool(converted == value)
    except Exception:  # an ``==`` that does not give a truth value (arrays)
        return False


def _shown_value(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
