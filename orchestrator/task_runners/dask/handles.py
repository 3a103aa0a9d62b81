"""Handles of the Dask task runner: what it knows about each task run it was given.

A ``DaskHandle`` is one task run. It points at the ``Submitted`` Dask task that runs
it (alone, or as ``position`` in a batch of mapped children) and holds what the
worker's summaries said: the live state (Pending, Running, Retrying) and, once it
arrives, the final record, turned into a ``State`` on first use. A handle made by
``given()`` holds its state from the start and no Dask task.

A result that stayed on the worker is a ``DaskResult`` in the state: ``result()``
fetches it from the cluster while the runner's session is open; afterwards it raises
``ResultNotAvailableError`` saying why and what to do. While a user holds the runner
open around runs, a ``DaskResult`` holds the Dask future itself: the result stays on the
cluster for as long as its state is reachable, and Dask forgets it once the state is
garbage-collected (a Dask future releases its key when it is) or the runner closes.
What arrives is not unpickled here: the fetched result comes as an ``InlineResult``
(``taskrun.dask.pickled``) and is unpickled when read. No Dask imports here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.errors import OrchestratorError
from taskrun.dask.pickled import InlineResult
from taskrun.dask.records import FinalRecord
from taskrun.states import DeferredResult, Pending, Running, State

#: live state of a handle Dask has not started yet
WAITING = Pending("Task run is waiting for a Dask worker.")
#: live state of a handle whose task run executes on a worker
RUNNING = Running("Task run is running on a Dask worker.")


class Submitted:
    """One Dask task: a task run, a batch of mapped children, or a slice of a result."""

    __slots__ = (
        "causes",
        "consumers",
        "erred",
        "function",
        "future",
        "handles",
        "keeps_result",
        "key",
        "mappable",
        "options",
        "payload",
        "recomputes",
        "release_when_final",
        "releases",
        "replaced_by",
        "result_bytes",
        "running_on",
        "serial",
        "settled",
        "sources",
        "task_id",
        "task_ids",
        "unfinished",
        "worker",
    )

    def __init__(
        self,
        key: str,
        function: Callable[..., Any],
        payload: tuple[Any, ...],
        sources: Sequence[Any],
        task_id: Any = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.key = key
        #: Dask submit options (resources, worker restrictions)
        self.options = options or {}
        #: which task's durations its summaries measure (for batch sizing)
        self.task_id = task_id
        #: the ``taskrun.dask.entry`` function and its leading arguments, called as
        #: ``function(*payload, args)``; kept to resubmit it if an upstream Dask task errs
        self.function = function
        self.payload = payload
        #: what the function's ``args`` are made of: ``Submitted`` (its Dask value) or values
        self.sources = tuple(sources)
        #: the Dask future; None once released (or never submitted)
        self.future: Any = None
        #: the handles it runs, by position (one for a task run, none for a slice)
        self.handles: list[DaskHandle] = []
        #: a slice's registered Dask tasks that read it and have not finished (it leaves
        #: the session's registry when the last one finishes)
        self.consumers = 0
        #: address of the worker holding its value, from its summaries
        self.worker: str | None = None
        #: the size of its value, the sum of its task runs' results (from their summaries)
        self.result_bytes = 0
        #: the Dask task that took over after this one erred (resubmitted, or split)
        self.replaced_by: Submitted | None = None
        #: what it amounts to after it erred for good: a state, or a batch's states
        self.settled: Any = None
        #: task runs whose final summary has not arrived (set when registered)
        self.unfinished = 0
        #: drop the future once every summary arrived (nothing downstream needs it)
        self.release_when_final = False
        #: the worker its latest Running summary came from while it runs (None once its
        #: worker died or it waits for a retry): evidence of who was running at a death
        self.running_on: str | None = None
        #: Dask erred on it and it was settled (failed, resubmitted or split)
        self.erred = False
        #: its place in the session's submission order, which is Dask's priority order
        self.serial = 0
        #: a task run's result stayed in worker memory (the future must outlive the run)
        self.keeps_result = False
        #: a task run's result is a sequence: mapped children may be cut from it where it
        #: lives, so the future stays until released
        self.mappable = False
        #: why earlier Dask tasks of these task runs were resubmitted (never twice for one
        #: cause, and only a few times in all: see ``repair``)
        self.causes: tuple[str, ...] = ()
        #: a group's per-member task ids, in place of ``task_id`` (its members run
        #: different tasks)
        self.task_ids: tuple[Any, ...] | None = None
        #: its handles released so far (the future goes once all of them are)
        self.releases = 0
        #: the released Dask task whose lost result this one computes again (it has no
        #: handles: see ``lost_upstream``)
        self.recomputes: Submitted | None = None

    def finished(self) -> None:
        """Every summary arrived: forget what only a resubmission would need (its plans and
        upstream links; kept while a result lives on a worker, which may die with it once
        the future is released: ``lost_upstream`` computes it again), and the future too
        if nothing downstream needs it."""
        if not self.keeps_result:
            self.payload = ()
            self.sources = ()
        if self.release_when_final:
            self.future = None

    def __repr__(self) -> str:
        return f"<Submitted {self.key} ({len(self.handles)} task runs)>"


class DaskHandle:
    """One task run on the Dask task runner."""

    __slots__ = (
        "__weakref__",  # a coalescing probe holds it weakly
        "kept",
        "live",
        "name",
        "position",
        "record",
        "released",
        "state",
        "submitted",
    )

    def __init__(
        self,
        name: str,
        submitted: Submitted | None = None,
        position: int | None = None,
        state: State | None = None,
    ) -> None:
        #: the task-run name, e.g. ``add_one-1f2e3d4c-17``
        self.name = name
        self.submitted = submitted
        self.position = position
        #: what ``get_state`` shows until the final state is known
        self.live: State = WAITING
        #: the final summary record as it arrived (a plain tuple, see ``final_record``),
        #: until it is turned into ``state``
        self.record: tuple[Any, ...] | None = None
        #: the final state (given, failed before submission, or built from ``record``)
        self.state = state
        #: the Dask future its result stayed in, kept for the state's ``DaskResult`` (while
        #: the runner is held open: see ``DaskSession.keep_results``) until it is built
        self.kept: Any = None
        #: the runner was told no run will read it any more (``release``)
        self.released = False

    @property
    def key(self) -> str | None:
        return self.submitted.key if self.submitted is not None else None

    @property
    def is_final(self) -> bool:
        return self.state is not None or self.record is not None

    def final_record(self) -> FinalRecord | None:
        """The final summary record, its fields named (None before it arrives, and once it
        became ``state``)."""
        record = self.record
        return None if record is None else FinalRecord._make(record)

    def __repr__(self) -> str:
        where = f" in {self.key}" if self.key else ""
        return f"<DaskHandle {self.name}{where}: {(self.state or self.live).name}>"


class ClosedSession:
    """Answers for handles whose session ended before they finished (or were sent)."""

    def wait(self, handle: DaskHandle, timeout: float | None = None) -> State:
        return self.get_state(handle)

    def get_state(self, handle: DaskHandle) -> State:
        from taskrun.states import Cancelled

        if handle.state is None:
            handle.state = Cancelled(
                f"Task run {handle.name!r} did not finish before its DaskTaskRunner shut down."
            )
        return handle.state


class ResultNotAvailableError(OrchestratorError, LookupError):
    """A task run's result stayed on the Dask cluster and cannot be fetched any more."""

    def __init__(self, task_run: str, nbytes: int, reason: str) -> None:
        super().__init__(task_run, nbytes, reason)
        self.task_run, self.nbytes, self.reason = task_run, nbytes, reason

    def __str__(self) -> str:
        why = {
            "closed": "the task runner's connection to the cluster has closed",
            "released": (
                "it was released from the cluster once every downstream task run had it "
                "(the runner was not held open around the run)"
            ),
            "lost": "the cluster lost it",
        }.get(self.reason, self.reason)
        return (
            f"The result of task run {self.task_run!r} ({_size(self.nbytes)}) stayed on the "
            f"Dask cluster and cannot be fetched: {why}. Results up to the runner's "
            "inline_result_bytes come back with their states; to read bigger ones, keep the "
            "runner open around the run (with DaskTaskRunner(...) as runner: state = "
            "flow.run(task_runner=runner); ...), or return a smaller value."
        )


class DaskResult(DeferredResult):
    """A result kept in a Dask worker's memory; ``fetch()`` brings it here (pickled),
    ``load()`` unpickles it.

    It holds the Dask future itself when given one (``future``): the cluster then keeps
    the result for as long as this object lives. Otherwise it reads the ``Submitted``
    Dask task's future when fetched, which is gone once the runner released it.
    """

    __slots__ = ("_fetched", "_fetcher", "future", "key", "length", "location", "name",
                 "nbytes", "position", "problem", "submitted", "type_name")  # fmt: skip

    def __init__(
        self,
        fetcher: Callable[[DaskResult], Any],
        submitted: Submitted | None,
        position: int | None,
        name: str,
        nbytes: int,
        type_name: str,
        length: int | None = None,
        problem: str | None = None,
        *,
        key: str = "",
        future: Any = None,
    ) -> None:
        self._fetcher = fetcher
        self._fetched: Any = None
        #: the Dask task, when no ``future`` is held (read for its future when fetched)
        self.submitted = submitted
        self.key = key or (submitted.key if submitted is not None else "")
        #: the Dask future held for the result (None: use the Dask task's)
        self.future = future
        self.position = position
        self.name = name
        self.nbytes = nbytes
        self.type_name = type_name
        #: the result's mapping shape, from the summary
        self.length, self.problem = length, problem
        #: where the result is also stored (checkpointed or cached), from the summary
        self.location: str | None = None

    def current_future(self) -> Any:
        """The Dask future holding the result now (None once released)."""
        if self.future is not None:
            return self.future
        return self.submitted.future if self.submitted is not None else None

    def fetch(self) -> bool:
        """Bring the result here, still pickled (``InlineResult``); the cluster's copy is
        no longer needed by this object."""
        if self._fetched is None:
            self._fetched = self._fetcher(self)
            self.future = self.submitted = None
        return True

    def load(self) -> Any:
        self.fetch()
        fetched = self._fetched
        return fetched.load() if isinstance(fetched, InlineResult) else fetched

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickles as the fetched result, still pickled inside (it is not unpickled here)."""
        self.fetch()
        fetched = self._fetched
        if isinstance(fetched, InlineResult):
            return fetched.__reduce_ex__(protocol)
        return super().__reduce_ex__(protocol)  # a plain value: as itself

    def __repr__(self) -> str:
        size = _size(self.nbytes)
        where = "fetched" if self._fetched is not None else "on the Dask cluster"
        return f"<result of {self.name}: {self.type_name}, {size} {where}>"


def _size(nbytes: int) -> str:
    if not isinstance(nbytes, (int, float)):
        return str(nbytes)
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{nbytes} bytes"
