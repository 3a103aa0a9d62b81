"""Creation-time checks of a task's options and ``run`` signature.

They run when a task is created (or copied with new options), so a mistake surfaces at
the line that made it, with a message naming the task and saying what to write instead.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import math
from typing import Any

from orchestrator.dag.result_options import check_copied_result_options
from orchestrator.errors import FlowDefinitionError, TaskDefinitionError

#: keywords a task call takes for itself (``Task.__call__``, ``Task.map``, ``@flow`` calls);
#: a ``run`` argument cannot use them
RESERVED_ARGUMENTS = ("upstream_tasks", "mapped", "task_args", "flow", "wait_for")


def run_signature(task_obj: Any) -> inspect.Signature:
    name = task_obj.name
    try:
        signature = inspect.signature(task_obj.run)
    except (TypeError, ValueError) as err:
        raise TaskDefinitionError(
            name,
            f"the signature of {task_obj.run!r} cannot be inspected ({err}).",
            "Wrap it in a normal function:\n\n"
            "    @task\n    def my_bool(x):\n        return bool(x)\n",
        ) from err
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            raise TaskDefinitionError(
                name,
                f"run() takes *{parameter.name}; arguments are passed "
                "by keyword, so *args is not allowed.",
                "Name each argument, e.g. def run(self, x, y).",
            )
        if parameter.name in RESERVED_ARGUMENTS:
            raise TaskDefinitionError(
                name,
                f"argument {parameter.name!r} is reserved: a task call takes "
                f"{parameter.name}= itself (reserved: {', '.join(RESERVED_ARGUMENTS)}).",
                f"Rename it, e.g. to {parameter.name}_value.",
            )
    return signature


def check_retries(
    name: str, max_retries: int | None, retry_delay: Any
) -> tuple[int, _dt.timedelta | None]:
    if isinstance(retry_delay, (int, float)) and not isinstance(retry_delay, bool):
        if not math.isfinite(retry_delay):
            raise TaskDefinitionError(
                name,
                f"retry_delay={retry_delay!r} is not a finite number of seconds.",
                "Pass e.g. retry_delay=10 or datetime.timedelta(seconds=10).",
            )
        retry_delay = _dt.timedelta(seconds=retry_delay)
    if retry_delay is not None and not isinstance(retry_delay, _dt.timedelta):
        raise TaskDefinitionError(
            name,
            f"retry_delay={retry_delay!r} is not a timedelta.",
            "Pass retry_delay=datetime.timedelta(seconds=10).",
        )
    if retry_delay is not None and retry_delay < _dt.timedelta(0):
        raise TaskDefinitionError(
            name,
            f"retry_delay={retry_delay.total_seconds():g} seconds is negative.",
            "Pass a delay >= 0, e.g. retry_delay=datetime.timedelta(seconds=10) (0 means "
            "retry at once).",
        )
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise TaskDefinitionError(
            name,
            f"max_retries={max_retries!r} is not a count >= 0.",
            "Pass an int such as max_retries=3.",
        )
    if max_retries and retry_delay is None:
        raise TaskDefinitionError(
            name,
            f"max_retries={max_retries} needs a retry_delay.",
            "Pass retry_delay=datetime.timedelta(seconds=...) (0 is allowed).",
        )
    return max_retries or 0, retry_delay


def check_retry_on(name: str, retry_on: Any) -> tuple[type[BaseException], ...] | None:
    if retry_on is None:
        return None
    types = (retry_on,) if isinstance(retry_on, type) else tuple(retry_on)
    bad = [t for t in types if not (isinstance(t, type) and issubclass(t, BaseException))]
    if bad:
        raise TaskDefinitionError(
            name,
            f"retry_on contains non-exception values {bad!r}.",
            "Pass exception classes, e.g. retry_on={ConnectionError}.",
        )
    return types


def check_timeout(name: str, timeout: Any) -> float | None:
    if isinstance(timeout, _dt.timedelta):
        timeout = timeout.total_seconds()
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not timeout > 0  # NaN too
    ):
        raise TaskDefinitionError(
            name,
            f"timeout={timeout!r} is not a positive number of seconds.",
            "Pass e.g. timeout=30.",
        )
    return float(timeout)


#: where a body with a ``timeout`` runs (``taskrun.body_call``): a child process the timeout
#: can stop (the default), or a thread that it cannot stop
TIMEOUT_ISOLATIONS = ("process", "thread")


def check_timeout_isolation(name: str, isolation: Any) -> str:
    if isolation not in TIMEOUT_ISOLATIONS:
        raise TaskDefinitionError(
            name,
            f"timeout_isolation={isolation!r} is not one of {TIMEOUT_ISOLATIONS}.",
            "Pass timeout_isolation='process' (the timeout stops the body) or 'thread' (it "
            "reports the timeout on time but cannot stop the body).",
        )
    return str(isolation)


def check_tags(name: str, tags: Any) -> set[str]:
    """``tags`` as a new set; a lone string is refused (it would become a set of letters)."""
    if tags is None:
        return set()
    if isinstance(tags, str) or not _iterable(tags):
        raise TaskDefinitionError(
            name,
            f"tags={tags!r} is not a collection of tags.",
            f"Pass a list or set of strings, e.g. tags=[{tags!r}].",
        )
    return set(tags)


def check_nout(name: str, nout: Any) -> int:
    """``nout``, the number of items of a task's result, as an int >= 1."""
    if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
        raise TaskDefinitionError(
            name,
            f"nout={nout!r} is not a count >= 1.",
            "Pass the number of items the task returns, e.g. nout=2 for `return a, b`.",
        )
    return nout


def check_batch_size(name: str, batch_size: Any) -> int | None:
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise TaskDefinitionError(
            name,
            f"batch_size={batch_size!r} is not a positive int.",
            "Use batch_size=1 to turn batching off, or None for automatic.",
        )
    return batch_size


#: how to fix a wrong ``max_in_flight`` (``Task`` and ``Flow`` give the same advice)
MAX_IN_FLIGHT_FIX = (
    "Pass the number of mapped branches (load -> transform -> save of one item) that may "
    "be alive at once, e.g. max_in_flight=8, or None for no bound."
)


def max_in_flight_problem(max_in_flight: Any) -> str | None:
    """What is wrong with a ``max_in_flight`` value (None or an int >= 1), or None."""
    if max_in_flight is None or (
        isinstance(max_in_flight, int)
        and not isinstance(max_in_flight, bool)
        and max_in_flight >= 1
    ):
        return None
    return f"max_in_flight={max_in_flight!r} is not a positive int."


def check_max_in_flight(name: str, max_in_flight: Any) -> int | None:
    """A task's ``max_in_flight``: how many of the mapped branches it belongs to may be alive
    at once (``orchestrator.runs.in_flight``)."""
    problem = max_in_flight_problem(max_in_flight)
    if problem is not None:
        raise TaskDefinitionError(name, problem, MAX_IN_FLIGHT_FIX)
    return None if max_in_flight is None else int(max_in_flight)


def check_flow_max_in_flight(name: str, max_in_flight: Any) -> int | None:
    """A flow's ``max_in_flight``: the bound of the mapped branches of every map in it."""
    problem = max_in_flight_problem(max_in_flight)
    if problem is not None:
        raise FlowDefinitionError(name, problem, MAX_IN_FLIGHT_FIX)
    return None if max_in_flight is None else int(max_in_flight)


#: how the executor calls each handler, for the messages and the arity check
_STATE_HANDLER = "handler(task, old_state, new_state) -> state"
_ON_FAILURE = "on_failure(task, state)"


def check_state_handlers(name: str, values: Any) -> list[Any]:
    """``state_handlers`` as a list; each must be callable as the executor calls it."""
    if callable(values):
        raise TaskDefinitionError(
            name,
            f"state_handlers={values!r} is a single function, not a list of them.",
            f"Pass a list: state_handlers=[{getattr(values, '__name__', 'handler')}].",
        )
    if isinstance(values, (str, bytes)) or (values is not None and not _iterable(values)):
        raise TaskDefinitionError(
            name,
            f"state_handlers={values!r} is not a list of functions.",
            f"Pass state_handlers=[handler] with functions {_STATE_HANDLER}.",
        )
    handlers = list(values or ())
    bad = [h for h in handlers if not callable(h)]
    if bad:
        raise TaskDefinitionError(
            name,
            f"state_handlers contains non-callables {bad!r}.",
            f"Pass functions {_STATE_HANDLER}.",
        )
    for handler in handlers:
        _check_arity(name, "state_handlers", handler, 3, _STATE_HANDLER)
    return handlers


def check_task_run_name(name: str, task_run_name: Any) -> Any:
    """``task_run_name`` if it is None, a format string or a callable (see
    ``orchestrator.runs.task_run_names``)."""
    if task_run_name is None or isinstance(task_run_name, str) or callable(task_run_name):
        return task_run_name
    raise TaskDefinitionError(
        name,
        f"task_run_name={task_run_name!r} is neither a format string nor a callable.",
        'Pass a template such as task_run_name="{x}-{map_index}", or a function (**keys) -> str.',
    )


def check_on_failure(name: str, on_failure: Any) -> Any:
    """``on_failure`` if it is None or callable as ``on_failure(task, state)``."""
    if on_failure is None:
        return None
    if not callable(on_failure):
        raise TaskDefinitionError(
            name,
            f"on_failure={on_failure!r} is not callable.",
            f"Pass a function {_ON_FAILURE}.",
        )
    _check_arity(name, "on_failure", on_failure, 2, _ON_FAILURE)
    return on_failure


def check_trigger(name: str, trigger: Any) -> None:
    """A trigger must be callable (``all_successful``, ``any_failed``, ... or your own)."""
    if trigger is not None and not callable(trigger):
        raise TaskDefinitionError(
            name,
            f"trigger={trigger!r} is not callable.",
            "Pass a trigger function such as orchestrator.triggers.all_finished.",
        )


def _check_arity(name: str, option: str, handler: Any, arity: int, call: str) -> None:
    """Refuse ``handler`` if its signature cannot take ``arity`` positional arguments."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # builtins and the like: leave them to run time
        return
    try:
        signature.bind(*range(arity))
    except TypeError as err:
        shown = getattr(handler, "__name__", repr(handler))
        raise TaskDefinitionError(
            name,
            f"{option} {shown}{signature} cannot be called as {call} ({err}).",
            f"Give it {arity} parameters: {call}.",
        ) from None


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def check_copied_options(new: Any, task_args: dict[str, Any]) -> None:
    """The creation-time checks of the options ``task.copy(**task_args)`` changed on ``new``."""
    name = new.name
    if "retry_delay" in task_args or "max_retries" in task_args:
        new.max_retries, new.retry_delay = check_retries(name, new.max_retries, new.retry_delay)
    if "timeout" in task_args:
        new.timeout = check_timeout(name, new.timeout)
    if "timeout_isolation" in task_args:
        new.timeout_isolation = check_timeout_isolation(name, new.timeout_isolation)
    if "retry_on" in task_args:
        new.retry_on = check_retry_on(name, new.retry_on)
    if "trigger" in task_args:
        check_trigger(name, new.trigger)
    if "state_handlers" in task_args:
        new.state_handlers = check_state_handlers(name, task_args["state_handlers"])
    if "on_failure" in task_args:
        new.on_failure = check_on_failure(name, new.on_failure)
    if "max_in_flight" in task_args:
        new.max_in_flight = check_max_in_flight(name, new.max_in_flight)
    if "nout" in task_args and new.nout is not None:
        new.nout = check_nout(name, new.nout)
    check_copied_result_options(new, task_args)  # result, target, checkpoint, cache_*
