"""Shipping task runs to Dask workers: each task and flow-run context pickled once.

A task is cloudpickled once per runner session (a task *copied* into a flow, as every
call in a flow copies it, travels as its template plus the attributes that differ), and
the flow run's context keys once per flow run. Arguments are checked to pickle here, so
an unpicklable task or argument fails its own task run with a message naming the object
(``dask_pickling``) before anything reaches Dask. No Dask imports.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import traceback
from collections.abc import Mapping
from typing import Any, TypeVar

from orchestrator.task_runners.dask.handles import DaskHandle
from orchestrator.task_runners.dask.identity_cache import IdentityCache
from orchestrator.task_runners.dask.keys import ResourceTagError, resources_from_tags, run_token
from orchestrator.task_runners.dask.pickling import UnpicklableError, check_value, dumps, dumps_task
from taskrun.dask.shipping import Shipped
from taskrun.states import Failed, State
from taskrun.wire import TaskRunCall

logger = logging.getLogger("orchestrator.DaskTaskRunner")
ErrorT = TypeVar("ErrorT", bound=BaseException)
_MISSING = object()
#: argument dicts whose pickling check is remembered (mapped children share theirs)
_CHECKS_REMEMBERED = 256
#: a task as shipped to workers, or why it cannot be
ShippedTask = Shipped | UnpicklableError | ResourceTagError
#: what ``Shipper.shipment`` gives: (task, context keys, flow-run token, Dask submit options)
Shipment = tuple[Shipped, Shipped, str, dict[str, Any]]


class Shipper:
    """The pickled tasks and contexts of one runner session, by object."""

    def __init__(self, token_prefix: str) -> None:
        self.token_prefix = token_prefix
        self._tasks: IdentityCache[tuple[ShippedTask, dict[str, Any]]] = IdentityCache()
        self._contexts: list[tuple[Mapping[str, Any], Shipped, str]] = []
        self._checked: IdentityCache[UnpicklableError | None] = IdentityCache(_CHECKS_REMEMBERED)
        self._tokens = itertools.count()

    def shipment(
        self, call: TaskRunCall, handle: DaskHandle, check_inputs: bool = True
    ) -> Shipment | None:
        """(task, context, flow-run token, Dask options), or None with ``handle`` failed."""
        shipped, options = self._shipped(call.task)
        if not isinstance(shipped, Shipped):
            handle.state = Failed(str(shipped), shipped)
            return None
        problem = self.inputs_problem(call) if check_inputs else None
        if problem is not None:
            handle.state = problem
            return None
        context_shipped, token = self._context(call.run_context)
        return shipped, context_shipped, token, options

    def _shipped(self, task: Any) -> tuple[ShippedTask, dict[str, Any]]:
        """The task shipped (or why it cannot be) and its Dask options, once per task."""
        return self._tasks.get(task, self._ship_task, task)

    def _ship_task(self, task: Any) -> tuple[ShippedTask, dict[str, Any]]:
        try:
            resources = resources_from_tags(task.name, getattr(task, "tags", ()) or ())
            shipped = self._ship_copy(task) or Shipped(self._token(), dumps_task(task))
        except (UnpicklableError, ResourceTagError) as err:
            return _quiet(err, task.name), {}
        return shipped, ({"resources": resources} if resources else {})

    def _ship_copy(self, task: Any) -> Shipped | None:
        """A task copied into a flow, shipped as its template plus what differs (None when
        it is no such copy). Flows copy a task at every call, so a fan-out of 10,000 calls
        pickles one function, not 10,000."""
        template = getattr(task, "_template", None)
        if template is None or template is task or type(template) is not type(task):
            return None
        base, _ = self._shipped(template)
        if not isinstance(base, Shipped):
            return None
        inherited = vars(template)
        changed = {
            name: value
            for name, value in vars(task).items()
            if name != "_flow_ref" and inherited.get(name, _MISSING) is not value
        }
        try:
            blob = dumps(changed)
        except Exception:  # an attribute of the copy refuses: say which, below
            return None
        return Shipped(self._token(), blob, base)

    def _context(self, run_context: Mapping[str, Any]) -> tuple[Shipped, str]:
        for known, shipped, token in self._contexts:
            if known is run_context:
                return shipped, token
        for known, shipped, token in self._contexts:
            if known == run_context:
                return shipped, token
        shipped, token = Shipped(self._token(), dumps(dict(run_context))), run_token(run_context)
        self._contexts = [(run_context, shipped, token), *self._contexts[:7]]
        return shipped, token

    def inputs_problem(self, call: TaskRunCall) -> State | None:
        for label, values in (("argument", call.inputs), ("argument", call.templates)):
            if not values:
                continue
            problem = self._checked.get(values, _first_unpicklable, call.task.name, label, values)
            if problem is not None:
                return Failed(str(problem), problem)
        return None

    def _token(self) -> str:
        return f"{self.token_prefix}:{next(self._tokens)}"


def _first_unpicklable(
    task_name: str, label: str, values: Mapping[str, Any]
) -> UnpicklableError | None:
    try:  # plain pickle first: what it pickles, cloudpickle does too, and it is much faster
        pickle.dumps(dict(values), protocol=5)
        return None
    except Exception:  # a lambda, a local class...: cloudpickle decides, below
        pass
    try:
        dumps(dict(values))
    except Exception:  # find which argument refused, below
        for name, value in values.items():
            try:
                check_value(task_name, f"{label} {name!r}", value)
            except UnpicklableError as err:
                return _quiet(err, task_name)
    return None


def _quiet(error: ErrorT, task_name: str) -> ErrorT:
    """``error`` without its traceback and cause, which are logged here at DEBUG instead:
    its message names the task and the object that refused, and the failed state that
    carries it is logged with it (pickling's own traceback is ~40 lines of internals)."""
    if logger.isEnabledFor(logging.DEBUG):  # formatted now: the chain is cut below
        chain = "".join(traceback.format_exception(error))
        logger.debug("Task %r cannot be shipped to Dask workers:\n%s", task_name, chain)
    error.__traceback__ = None
    error.__cause__ = error.__context__ = None
    error.__suppress_context__ = True
    return error


def task_identity(task: Any) -> tuple[str, ...]:
    """What identifies a task across flow runs (for its measured child durations)."""
    function = getattr(task, "__wrapped__", None)
    return (
        type(task).__module__,
        type(task).__qualname__,
        str(getattr(task, "name", "")),
        getattr(function, "__module__", "") or "",
        getattr(function, "__qualname__", "") or "",
    )
