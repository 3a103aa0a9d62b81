"""Binding call arguments to a task's ``run`` signature: the precomputed layout used when
a flow copies a task per call must name arguments exactly as ``Signature.bind_partial``
does (same names, same order, ``**kwargs`` flattened last), and fail where it fails."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import Task

P = inspect.Parameter
NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def signatures(draw: Any) -> inspect.Signature:
    """Signatures with positional-or-keyword, keyword-only and optional ``**kwargs``."""
    names = draw(st.permutations(NAMES))
    plain = draw(st.integers(min_value=0, max_value=4))
    keyword_only = draw(st.integers(min_value=0, max_value=4 - plain))
    params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in names[:plain]]
    params += [P(n, P.KEYWORD_ONLY) for n in names[plain : plain + keyword_only]]
    if draw(st.booleans()):
        params.append(P("kw", P.VAR_KEYWORD))
    return inspect.Signature(params)


def inspect_binding(signature: inspect.Signature, args: tuple, kwargs: dict) -> Any:
    try:
        bound = dict(signature.bind_partial(*args, **kwargs).arguments)
    except TypeError:
        return TypeError
    for name, parameter in signature.parameters.items():
        if parameter.kind is P.VAR_KEYWORD and name in bound:
            bound.update(bound.pop(name))
    return list(bound.items())


@settings(max_examples=300, deadline=None)
@given(
    signatures(),
    st.integers(min_value=0, max_value=5),
    st.lists(st.sampled_from([*NAMES, "x", "y"]), unique=True, max_size=5),
)
def test_binding_names_arguments_like_inspect(signature, positional, keywords):
    task = Task(name="bound")
    task.signature = signature  # a different signature: the layout follows it
    args = tuple(range(positional))
    kwargs = {key: f"value-{key}" for key in keywords}
    expected = inspect_binding(signature, args, kwargs)
    if expected is TypeError:
        with pytest.raises(TypeError, match=r"^Task 'bound': "):
            task.bind_arguments(args, dict(kwargs))
    else:
        assert list(task.bind_arguments(args, dict(kwargs)).items()) == expected


def test_positional_only_parameters_are_bound_by_inspect():
    def body(a, /, b, **kw):
        return a, b, kw

    task = Task(name="posonly")
    task.signature = inspect.signature(body)
    assert task.bind_arguments((1,), {"b": 2, "a": 3}) == {"a": 3, "b": 2}
