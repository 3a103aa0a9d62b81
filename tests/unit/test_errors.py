"""Exceptions cross process boundaries: every public exception class of both packages pickles.

Classes are discovered by importing every module of ``orchestrator`` and ``taskrun`` (the
Dask-backed ones too), so a new exception class is covered without editing this file.
Each is built from sample arguments chosen by parameter annotation; ``EXAMPLES`` holds
hand-made instances where that is not enough.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import cloudpickle
import pytest

import orchestrator
import taskrun
from orchestrator.errors import (
    CycleError,
    FlowDefinitionError,
    InvalidTransitionError,
    OrchestratorError,
    ParameterError,
    TaskDefinitionError,
)
from orchestrator.runs.mapping import MappingError
from taskrun.errors import MissingInputError, TriggerFailedError
from taskrun.states import Failed


def _modules():
    names = []
    for package in (orchestrator, taskrun):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return [importlib.import_module(name) for name in sorted(names)]


def _exception_classes():
    found = {}
    for module in _modules():
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{value.__module__}.{name}"] = value
    return dict(sorted(found.items()))


EXCEPTION_CLASSES = _exception_classes()

#: instances for classes whose constructors the generic builder cannot guess
EXAMPLES = {
    CycleError: lambda: CycleError("etl", ["a", "b", "a"]),
    ParameterError: lambda: ParameterError("etl", missing=["x"], unknown=["y"], known=["x", "z"]),
}


def _sample(parameter: inspect.Parameter) -> object:
    annotation = str(parameter.annotation)
    if "State" in annotation:
        return Failed("sample state")
    if "tuple[str, str]" in annotation:
        return [("x", "'upstream'")]
    if any(word in annotation for word in ("Sequence", "list", "Iterable")):
        return ["a", "b"]
    if "int" in annotation and "str" not in annotation:
        return 3
    return f"sample {parameter.name}"


def build(cls):
    if cls in EXAMPLES:
        return EXAMPLES[cls]()
    signature = inspect.signature(cls.__init__)
    args = [
        _sample(p)
        for name, p in signature.parameters.items()
        if name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
    ]
    return cls(*args)


def test_the_known_exception_classes_are_discovered():
    discovered = set(EXCEPTION_CLASSES.values())
    assert {
        OrchestratorError,
        TaskDefinitionError,
        FlowDefinitionError,
        CycleError,
        ParameterError,
        InvalidTransitionError,
        MappingError,
        TriggerFailedError,
        MissingInputError,
    } <= discovered


@pytest.mark.parametrize("cls", list(EXCEPTION_CLASSES.values()), ids=list(EXCEPTION_CLASSES))
@pytest.mark.parametrize(
    ("dumps", "loads"),
    [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)],
    ids=["pickle", "cloudpickle"],
)
def test_every_exception_class_pickles_with_its_message_and_fields(cls, dumps, loads):
    error = build(cls)
    restored = loads(dumps(error))
    assert type(restored) is cls
    assert str(restored) == str(error)
    fields = {k: v for k, v in vars(error).items() if not k.startswith("_")}
    restored_fields = {k: v for k, v in vars(restored).items() if not k.startswith("_")}
    assert restored_fields.keys() == fields.keys()
    for key, value in fields.items():
        assert repr(restored_fields[key]) == repr(value), key


# ---- messages name the thing and the fix --------------------------------------------------------
def test_a_cycle_error_shows_the_cycle_and_the_fix():
    error = CycleError("etl", ["extract", "clean", "extract"])
    assert str(error) == (
        "Flow 'etl': its tasks form a cycle: extract -> clean -> extract. "
        "Remove one of these edges so the flow is a DAG."
    )
    assert error.cycle == ["extract", "clean", "extract"]
    assert isinstance(error, FlowDefinitionError)
    assert isinstance(error, ValueError)


def test_a_parameter_error_lists_missing_and_unknown_names_sorted_and_the_known_ones():
    error = ParameterError("etl", missing=["b", "a"], unknown=["zz"], known=["a", "b"])
    assert str(error) == (
        "Flow 'etl': missing required parameters 'a', 'b'; unknown parameters "
        "'zz'. The flow's parameters are: 'a', 'b'; pass them as "
        "parameters={name: value}."
    )


def test_long_name_lists_are_cut_after_ten():
    error = ParameterError("etl", missing=[f"p{i:02}" for i in range(12)])
    assert "'p09' and 2 more" in str(error)


def test_a_trigger_failed_error_names_the_task_and_the_reason():
    error = TriggerFailedError("load", "Some upstream tasks did not succeed: 'extract'.")
    assert str(error) == (
        "Task 'load': trigger did not pass. Some upstream tasks did not succeed: 'extract'."
    )


def test_a_mapping_error_names_the_task_the_argument_and_the_fix():
    error = MappingError("load", "path", "its value 3 is not a sequence")
    assert str(error) == (
        "Task 'load': cannot map over argument 'path': its value 3 is not a "
        "sequence. Map over a list or tuple, or wrap the argument in "
        "unmapped(...) if every child should receive it whole."
    )


def test_an_invalid_transition_says_it_is_an_orchestrator_bug():
    assert "please report it" in str(InvalidTransitionError("load", "Success", "Running"))
