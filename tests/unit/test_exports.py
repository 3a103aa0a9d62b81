"""The public surface: every package's ``__all__`` is pinned, and SPEC.md's import paths exist.

A change to a public API shows up here first, so it is made on purpose.
"""

from __future__ import annotations

import importlib

import pytest

PINNED_ALL = {
    "orchestrator": [
        "Constant", "Dependency", "Edge", "Flow", "Parameter", "Task", "__version__", "context",
        "flatten", "flow", "task", "unmapped", "apply_map", "case", "resource_manager",
        "tags",
    ],
    "orchestrator.tasks.control_flow": ["FilterTask", "case", "ifelse", "merge", "switch"],
    "orchestrator.tasks.resources": ["ResourceManager", "resource_manager"],
    "orchestrator.tasks.core.resource_manager": ["ResourceManager", "resource_manager"],
    "orchestrator.core": ["Edge", "Flow", "Parameter", "Task"],
    "orchestrator.core.task": ["Task"],
    "orchestrator.core.flow": ["Flow"],
    "orchestrator.core.edge": ["Edge"],
    "orchestrator.core.parameter": ["DateTimeParameter", "Parameter"],
    "orchestrator.utilities.tasks": [
        "defaults_from_attrs", "pause_task", "tags", "task", "unmapped",
    ],
    "orchestrator.utilities.debug": ["raise_on_exception"],
    "orchestrator.executors": ["DaskExecutor", "LocalDaskExecutor", "LocalExecutor"],
    "orchestrator.engine": ["FlowRunner", "TaskRunner", "signals", "state"],
    "orchestrator.engine.state": [
        "Cached", "Cancelled", "Completed", "Failed", "Finished", "Mapped", "Paused", "Pending",
        "Resume", "Retrying", "Running", "Scheduled", "Skipped", "State", "StateKind", "StateType",
        "Success", "TimedOut", "TriggerFailed", "Looped", "ValidationFailed",
    ],
    "orchestrator.results": [
        "CacheValidatorError", "JSONSerializer", "LocalResult", "PandasSerializer",
        "PickleSerializer", "PrefectResult", "Result", "ResultError", "ResultReadError",
        "ResultWriteError", "Serializer", "StoredResult", "TargetTemplateError", "result_location",
    ],
    "orchestrator.engine.results": ["LocalResult", "PrefectResult", "Result"],
    "orchestrator.engine.result": ["Result"],
    "orchestrator.engine.serializers": [
        "JSONSerializer", "PandasSerializer", "PickleSerializer", "Serializer",
    ],
    "orchestrator.engine.cache_validators": [
        "all_inputs", "all_parameters", "duration_only", "never_use", "partial_inputs_only",
        "partial_parameters_only",
    ],
    "orchestrator.engine.signals": [
        "ENDRUN", "FAIL", "PAUSE", "RETRY", "SKIP", "SUCCESS", "Signal", "TIMEOUT", "TRIGGERFAIL",
        "LOOP", "VALIDATIONFAIL", "signal_from_state",
    ],
    "orchestrator.triggers": [
        "Decision", "TriggerResult", "all_failed", "all_finished", "all_successful", "always_run",
        "any_failed", "any_successful", "manual_only", "not_all_skipped", "some_failed",
        "some_successful",
    ],
    "orchestrator.task_runners": [
        "BaseTaskRunner", "ConcurrentTaskRunner", "DaskTaskRunner", "SequentialTaskRunner",
    ],
    "orchestrator.journal": [
        "FlowRunRecord", "Journal", "JournalCorruptError", "JournalError", "JournalLockedError",
        "JournalVersionError", "JournalWarning", "ResumeError", "RunNotFoundError", "SQLiteJournal",
        "StateRecord", "TaskRunRecord", "cancel_flow_run", "journal_path", "resume_paused",
    ],
    "orchestrator.tasks.core.constants": ["Constant"],
    "taskrun": ["run_task", "pause_task"],
    "orchestrator.futures": ["Future"],
    "orchestrator.engine.task_runner": ["TaskRunner"],
    "orchestrator.engine.flow_runner": ["FlowRunner"],
    "orchestrator.task_runners.dask": ["DaskTaskRunner"],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PINNED_ALL))
def test_all_is_pinned(module_name):
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PINNED_ALL[module_name])


@pytest.mark.parametrize("module_name", sorted(PINNED_ALL))
def test_every_name_in_all_resolves(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name}"


#: (module, names) exactly as SPEC.md lists the public import paths
SPEC_IMPORTS = [
    ("orchestrator", "task Task flow Flow Parameter unmapped flatten context Dependency Constant"),
    ("orchestrator.core", "Edge Task Flow Parameter"),
    ("orchestrator.tasks.core.constants", "Constant"),
    ("orchestrator.engine", "TaskRunner FlowRunner signals"),
    (
        "orchestrator.engine.state",
        "State Pending Running Success Completed Failed TriggerFailed "
        "Retrying Skipped Paused Resume Mapped TimedOut Cached Cancelled",
    ),
    (
        "orchestrator.triggers",
        "all_successful all_failed any_successful any_failed all_finished "
        "always_run manual_only not_all_skipped some_successful some_failed",
    ),
    ("orchestrator.task_runners", "SequentialTaskRunner ConcurrentTaskRunner"),
    ("orchestrator.futures", "Future"),
]


@pytest.mark.parametrize(("module_name", "names"), SPEC_IMPORTS, ids=[m for m, _ in SPEC_IMPORTS])
def test_the_public_import_paths_of_the_specification_exist(module_name, names):
    module = importlib.import_module(module_name)
    missing = [name for name in names.split() if not hasattr(module, name)]
    assert missing == []


def test_the_same_objects_are_reachable_from_every_public_path():
    import orchestrator
    from orchestrator import core, engine
    from orchestrator.engine import signals, state
    from orchestrator.tasks.core.constants import Constant
    from taskrun import signals as worker_signals
    from taskrun import states

    assert core.Task is orchestrator.Task
    assert core.Flow is orchestrator.Flow
    assert core.Edge is orchestrator.Edge
    assert core.Parameter is orchestrator.Parameter
    assert Constant is orchestrator.Constant
    assert engine.signals is signals
    assert engine.state is state
    assert signals.RETRY is worker_signals.RETRY
    assert state.Success is states.Success


def test_the_dask_task_runner_loads_only_when_asked_for():
    import subprocess
    import sys

    code = (
        "import sys, orchestrator, orchestrator.task_runners; "
        "print('distributed' in sys.modules, 'dask' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_unknown_task_runner_names_raise_attribute_error():
    import orchestrator.task_runners

    with pytest.raises(AttributeError, match="has no attribute 'SparkTaskRunner'"):
        orchestrator.task_runners.SparkTaskRunner  # noqa: B018 - the access is the test
