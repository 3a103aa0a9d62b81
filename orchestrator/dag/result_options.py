"""Creation-time checks of a task's result options: result, target, checkpoint, caching.

``@task(result=..., target=..., checkpoint=..., cache_for=..., cache_validator=...,
cache_key=...)`` are checked here when the task is created (or copied with new values),
so a mistake surfaces at the line that made it. What the options do at run time is
``taskrun.persistence``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from orchestrator.errors import TaskDefinitionError
from taskrun.results import PrefectResult, Result

#: the task attributes these options set, in ``Task.__init__``'s order
RESULT_OPTIONS = ("result", "target", "checkpoint", "cache_for", "cache_validator", "cache_key")


def set_result_options(
    task_obj: Any,
    result: Any,
    target: Any,
    checkpoint: Any,
    cache_for: Any,
    cache_validator: Any,
    cache_key: Any,
) -> None:
    """Check the options and set them on ``task_obj`` (mutates it)."""
    name = task_obj.name
    task_obj.result = _check_result(name, result)
    task_obj.target = _check_target(name, target, task_obj.result)
    if checkpoint is not None and not isinstance(checkpoint, bool):
        raise TaskDefinitionError(
            name,
            f"checkpoint={checkpoint!r} is not a bool.",
            "Pass checkpoint=True (store successful results), False, or leave it out "
            "(store them when the task has a result or a target).",
        )
    task_obj.checkpoint = checkpoint
    task_obj.cache_for = _check_cache_for(name, cache_for)
    if cache_validator is not None and not callable(cache_validator):
        raise TaskDefinitionError(
            name,
            f"cache_validator={cache_validator!r} is not callable.",
            "Pass one of orchestrator.engine.cache_validators, e.g. cache_validator="
            "cache_validators.all_inputs.",
        )
    task_obj.cache_validator = cache_validator
    if cache_key is not None and not isinstance(cache_key, str):
        raise TaskDefinitionError(
            name, f"cache_key={cache_key!r} is not a string.", "Pass e.g. cache_key='daily-load'."
        )
    task_obj.cache_key = cache_key


def apply_flow_result(task_obj: Any, result: Any) -> None:
    """Give ``task_obj`` its flow's ``result`` (if any) unless it has one of its own
    (mutates it): ``Flow(result=...)`` is the default of the flow's tasks."""
    if result is not None and getattr(task_obj, "result", None) is None:
        task_obj.result = result


def check_copied_result_options(new: Any, task_args: dict[str, Any]) -> None:
    """The checks above, for a ``task.copy(**task_args)`` that changed one of the options."""
    if any(option in task_args for option in RESULT_OPTIONS):
        values = [getattr(new, option, None) for option in RESULT_OPTIONS]
        set_result_options(new, *values)


def _check_result(name: str, result: Any) -> Result | None:
    if result is None or isinstance(result, Result):
        return result
    hint = "LocalResult(dir='results')"
    if isinstance(result, str):
        hint = f"Result({result!r}) for a storage URL, or LocalResult(dir={result!r})"
    raise TaskDefinitionError(
        name,
        f"result={result!r} is not a Result.",
        f"Pass a result from orchestrator.results, e.g. result={hint}.",
    )


def _check_target(name: str, target: Any, result: Result | None) -> Any:
    if target is None:
        return None
    if not (isinstance(target, str) or callable(target)):
        raise TaskDefinitionError(
            name,
            f"target={target!r} is neither a location template nor a callable.",
            "Pass e.g. target='{flow_name}/{task_name}/{map_index}.pkl'.",
        )
    if isinstance(result, PrefectResult):
        raise TaskDefinitionError(
            name,
            "a PrefectResult keeps values inline, so it has no location a target could name.",
            "Use a storage result with a target, e.g. result=LocalResult(dir='results').",
        )
    return target


def _check_cache_for(name: str, cache_for: Any) -> _dt.timedelta | None:
    if isinstance(cache_for, (int, float)) and not isinstance(cache_for, bool):
        cache_for = _dt.timedelta(seconds=cache_for)
    if cache_for is None:
        return None
    if not isinstance(cache_for, _dt.timedelta) or cache_for <= _dt.timedelta(0):
        raise TaskDefinitionError(
            name,
            f"cache_for={cache_for!r} is not a positive duration.",
            "Pass cache_for=datetime.timedelta(hours=1) (or a number of seconds).",
        )
    return cache_for
