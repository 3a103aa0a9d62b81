"""TaskLike: what the task-run executor reads of a task.

The executor (``taskrun.execute``, ``taskrun.run_keys``, ``taskrun.body_call``) runs any
object with these members. The orchestrator's ``Task`` has every one of them (its
``__init__`` sets each), so it satisfies the protocol structurally: ``taskrun`` never
imports ``orchestrator``. The members are read-only properties here because the
executor only reads them, and so a task may declare a narrower type (``slug: str``).

An empty value has a meaning, so a task copied with ``task.copy(trigger=None)``, or an
object built by hand, still runs:

    trigger None                -> ``all_successful``
    state_handlers None or ()   -> no handlers
    max_retries None or 0       -> no retries
    retry_delay None            -> the next attempt starts at once (after RETRY: 1 s)
    retry_on None or ()         -> any error is retried
    slug None or ""             -> the name
    tags None or empty          -> no tags

Members the executor reads with a default, so a task may lack them (``ResultOptions``):
``result``, ``target``, ``checkpoint``, ``cache_for``, ``cache_validator``, ``cache_key``
(missing or None: nothing is stored or cached; see ``taskrun.persistence``).

>>> from taskrun.execute import run_task
>>> class Hello:
...     name, slug, tags = "hello", None, None
...     max_retries, retry_delay, retry_on, timeout = 0, None, None, None
...     trigger, skip_on_upstream_skip = None, True
...     state_handlers, on_failure, log_stdout = None, None, False
...     def run(self):
...         return "hi"
>>> run_task(Hello(), run_context={"executor_logs": False}).result()
'hi'
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

from taskrun.states import State

#: ``handler(task, old_state, new_state)``; a returned ``State`` replaces the new state
StateHandler: TypeAlias = Callable[[Any, State, State], object]
#: ``on_failure(task, failed_state)``, called when the task run enters a failed state
FailureHandler: TypeAlias = Callable[[Any, State], object]
#: ``trigger(upstream_states)``: a ``TriggerResult``, or True / False
TriggerFunction: TypeAlias = Callable[[Mapping[Hashable, State]], object]


@runtime_checkable
class TaskLike(Protocol):
    """A task, as the executor sees it (see the module docstring for empty values)."""

    @property
    def name(self) -> str:
        """Shown in every message and log line of its runs."""

    @property
    def slug(self) -> str | None:
        """The task's unique name in its flow (the ``task_slug`` context key)."""

    @property
    def tags(self) -> Collection[str] | None:
        """The ``task_tags`` context key (sorted)."""

    @property
    def max_retries(self) -> int | None:
        """Attempts after the first when one fails."""

    @property
    def retry_delay(self) -> _dt.timedelta | None:
        """The wait before each further attempt."""

    @property
    def retry_on(self) -> Iterable[type[BaseException]] | None:
        """Only errors of these types are retried."""

    @property
    def timeout(self) -> float | None:
        """Seconds an attempt may take before it ends ``TimedOut``."""

    @property
    def trigger(self) -> TriggerFunction | None:
        """Decides from the upstream states whether the task runs."""

    @property
    def skip_on_upstream_skip(self) -> bool:
        """A skipped upstream skips this task too (before the trigger is asked)."""

    @property
    def state_handlers(self) -> Iterable[StateHandler] | None:
        """Called in order on every state change of the run."""

    @property
    def on_failure(self) -> FailureHandler | None:
        """Called when the run enters a failed state."""

    @property
    def log_stdout(self) -> bool:
        """``print`` output of the body becomes log records of the task's logger."""

    @property
    def run(self) -> Callable[..., Any]:
        """The body: called with the run's keyword arguments; its return value is the result."""


class ResultOptions(Protocol):
    """The optional members of a task that stores or caches its results (all default None)."""

    @property
    def result(self) -> Any:
        """The ``taskrun.results.Result`` its results are stored with."""

    @property
    def target(self) -> str | Callable[..., str] | None:
        """A location template: a result stored there already makes the run ``Cached``."""

    @property
    def checkpoint(self) -> bool | None:
        """False: store nothing (None: store when there is a result or a target)."""

    @property
    def cache_for(self) -> _dt.timedelta | None:
        """How long a successful result stays valid in the cache."""

    @property
    def cache_validator(self) -> Callable[..., bool] | None:
        """``validator(entry, inputs, parameters)``; default ``duration_only``."""

    @property
    def cache_key(self) -> str | None:
        """A key shared by every task and flow that names it; default: the lineage key."""
