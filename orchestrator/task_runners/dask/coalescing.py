"""Coalescing: short task runs submitted one by one go to Dask together, in groups.

Dask costs a millisecond or two per task; a short task run costs tens of microseconds.
A fan-out (``[add_one(i) for i in range(10_000)]`` in a ``@flow``, or the same calls in a
DAG) or a chain (``add_one(add_one(...))``) would pay Dask's cost once per call. So
calls the runner is given one at a time are gathered and sent as ``run_group`` Dask
tasks (``groups``), each call still its own task run (own state, retries, logs,
summary), and a call that reads an earlier member reads it inside the group: a chain
of short links is one Dask task per segment, not one per link.

    a call of a task measured long, with batch_size=1, or whose
    mapped element must be cut from an upstream             -> alone, at once
    the first calls of a task not measured yet (one per     -> alone, at once: the probe
    worker thread)                                             that measures it
    the first call after a pause (``QUIET_SECONDS``)         -> alone, at once: a lone
                                                               call waits for nothing
    any other call                                          -> gathered

What is gathered goes to Dask when the submitting thread pauses, after
``MAX_WAIT_SECONDS`` at most, once a group's expected work reaches ``GROUP_SECONDS``, or
at once when someone needs it (a wait, a shape, a call that must go alone and reads it,
a mapped level). Inside ``holding()`` (a pass over a DAG: ``BaseTaskRunner.gathering``)
every call is gathered and nothing goes for a pause: the pass's waits and its end send
them, so a DAG's independent tasks and chains group the same way every run. Calls of
a task still being probed wait for the probe: a probe that finishes measures the task;
one still running after ``LONG_CHILD_SECONDS`` (as batching) says its calls are long,
and they go alone. A group ends where a member would need other Dask resources or
another flow run's context, and a long call between members splits the chain there.

Thread-safety: ``submit``/``flush`` run under the runner's submission lock; a
background thread (``_flush_when_quiet``) takes that lock to send what waits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from orchestrator.task_runners.dask.arguments import Slicer
from orchestrator.task_runners.dask.batching import LONG_CHILD_SECONDS
from orchestrator.task_runners.dask.groups import Group
from orchestrator.task_runners.dask.handles import RUNNING, DaskHandle, Submitted
from orchestrator.task_runners.dask.releases import release
from orchestrator.task_runners.dask.shipping import Shipment, task_identity
from taskrun.dask import entry as dask_entry
from taskrun.states import Failed
from taskrun.wire import TaskRunCall

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.submit import Submitter

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: the expected work of one group: long enough to hide Dask's cost, short enough that
#: several groups of a burst spread over the worker threads
GROUP_SECONDS = 0.05
#: task runs in one group at most
MAX_GROUP = 2000
#: a task run expected to take this long goes alone
LONG_SECONDS = GROUP_SECONDS / 2
#: the submitting thread paused this long: what it gathered goes (a GIL switch interval:
#: a thread that merely lost the GIL to a worker thread for a moment has not paused)
QUIET_SECONDS = 0.005
#: gathered task runs wait this long at most
MAX_WAIT_SECONDS = 0.02
#: a probe that has not run after this long: its task counts as long
PROBE_PATIENCE_SECONDS = 5.0
#: pickled result bytes a group's member may bring back with its summary
MEMBER_INLINE_BYTES = 32 << 10
_POLL_SECONDS = 0.002
_LONG = float("inf")


class _Entry(NamedTuple):
    call: TaskRunCall
    handle: DaskHandle
    shipped: Shipment
    task_id: Hashable


class _Probe:
    """A call that runs alone to measure its task: when it was submitted and seen running.

    It holds its handle weakly: a probe must not keep a task run's state (and so its Dask
    future and the result on the cluster) alive once the flow has let go of it."""

    __slots__ = ("handle", "running_since", "submitted_at")

    def __init__(self, handle: DaskHandle) -> None:
        self.handle = weakref.ref(handle)
        self.submitted_at = time.monotonic()
        self.running_since: float | None = None


class Coalescer:
    """The task runs of one session waiting to go to Dask (see the module docstring)."""

    def __init__(self, submitter: Submitter, lock: Any) -> None:
        self.submitter = submitter
        #: the runner's submission lock (the submitter is not thread-safe)
        self.lock = lock
        self.entries: list[_Entry] = []
        #: id(handle) of every gathered run
        self.pending: set[int] = set()
        #: gathered runs per task id
        self.counts: dict[Hashable, int] = {}
        self.probes: dict[Hashable, list[_Probe]] = {}
        #: task ids whose probe ran long
        self.long: set[Hashable] = set()
        self.cond = threading.Condition()
        self.first = self.last = 0.0
        self.closed = False
        #: ``holding`` blocks open: nothing goes for a pause, only when needed or at the end
        self.hold = 0
        #: handles released while runs were gathered (one of them may read it): released
        #: once those are sent
        self.released_later: list[DaskHandle] = []
        self._thread: threading.Thread | None = None

    # ---- submitting (under the lock) -----------------------------------------------------------
    def holds(self, handle: Any) -> bool:
        """Whether ``handle``'s run is gathered here, not sent yet."""
        return id(handle) in self.pending

    def submit(self, call: TaskRunCall) -> DaskHandle:
        submitter = self.submitter
        if not _joinable(call):
            self.flush_for(call)
            return submitter.submit_alone(call)
        task_id = task_identity(call.task)
        seconds = self.seconds(task_id)
        probing = seconds is None and len(self.probes.get(task_id, ())) < submitter.threads()
        if probing or (seconds is not None and seconds >= LONG_SECONDS):
            self.flush_for(call)
            handle = submitter.submit_alone(call)
            if probing:
                self.probes.setdefault(task_id, []).append(_Probe(handle))
            return handle
        now = time.monotonic()
        leading = not self.hold and not self.entries and now - self.last > QUIET_SECONDS
        self.last = now
        if leading:  # the first call after a pause: it may be alone, so it goes at once
            self.flush_for(call)
            return submitter.submit_alone(call)
        handle = DaskHandle(call.name)
        shipped = submitter.shipper.shipment(call, handle)
        if shipped is None:  # it cannot ship: failed, saying why
            return handle
        with self.cond:
            now = time.monotonic()
            if not self.entries:
                self.first = now
                self.cond.notify()
            self.last = now
            self.entries.append(_Entry(call, handle, shipped, task_id))
            self.pending.add(id(handle))
            self.counts[task_id] = self.counts.get(task_id, 0) + 1
        work = self._work()
        if (work is not None and work >= GROUP_SECONDS) or len(self.entries) >= MAX_GROUP:
            self.flush(block=False)
        self._start_thread()
        return handle

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Gather every call submitted inside (none goes for a pause or as a leading call);
        what is left goes when the block ends."""
        with self.lock:
            self.hold += 1
        try:
            yield
        finally:
            with self.lock:
                self.hold -= 1
                if not self.hold:
                    self.flush(block=False)  # else the background thread, once measured
                    self.last = time.monotonic()
            with self.cond:
                self.cond.notify()

    def send_now(self, handles: Sequence[Any]) -> None:
        """Send what is gathered if any of ``handles`` is (someone waits for it); any thread."""
        pending = self.pending
        if pending and any(id(h) in pending for h in handles):
            with self.lock:
                self.flush()

    def flush_for(self, call: TaskRunCall) -> None:
        """Send what is gathered if ``call`` reads any of it (it must point at Dask tasks)."""
        pending = self.pending
        if pending and any(id(h) in pending for ref in call.upstream for h in ref.sources):
            self.flush()

    def flush(self, block: bool = True) -> bool:
        """Send every gathered run; with ``block`` False, only if no probe is still
        measuring one of their tasks. Returns whether it sent."""
        if not self.entries:
            return True
        if not self._resolved(block):
            return False
        with self.cond:
            entries, self.entries = self.entries, []
            self.counts = {}
        try:
            self._send(entries)
        except Exception as err:  # boundary: the runs not sent fail, saying why
            logger.error("Could not send %d gathered task runs", len(entries), exc_info=True)
            self._fail_unsent(entries, err)
        finally:
            self.pending = set()
        later, self.released_later = self.released_later, []
        for handle in later:
            release(handle.submitted, handle, self.submitter.session)
        return True

    def _fail_unsent(self, entries: Sequence[_Entry], error: Exception) -> None:
        session = self.submitter.session
        failed = []
        for entry in entries:
            handle = entry.handle
            if handle.submitted is None and not handle.is_final:
                handle.state = Failed(
                    f"Task run {handle.name!r} could not be sent to Dask: "
                    f"{type(error).__name__}: {error}",
                    error,
                )
                failed.append(handle)
        with session.cond:
            session.cond.notify_all()
        for handle in failed:
            session.listeners.tell(handle)

    def seconds(self, task_id: Hashable) -> float | None:
        """Expected seconds of a run of the task: measured, long (``inf``) by its probe, or
        None while unknown."""
        measured = self.submitter.session.estimates.get(task_id)
        if measured is not None:
            self.probes.pop(task_id, None)
            return measured
        if task_id in self.long:
            self.probes.pop(task_id, None)
            return _LONG
        probes = self.probes.get(task_id)
        if not probes:
            return None
        now = time.monotonic()
        for probe in probes:
            handle = probe.handle()
            if handle is None or handle.is_final:  # ended unmeasured (refused, lost): alone
                self.long.add(task_id)
                return _LONG
            if probe.running_since is None and handle.live is RUNNING:
                probe.running_since = now
            since = probe.running_since
            if (since is not None and now - since >= LONG_CHILD_SECONDS) or (
                now - probe.submitted_at >= PROBE_PATIENCE_SECONDS
            ):
                self.long.add(task_id)
                return _LONG
        return None

    def _work(self) -> float | None:
        """Expected seconds of everything gathered (None while a task is unmeasured)."""
        work = 0.0
        for task_id, count in self.counts.items():
            seconds = self.seconds(task_id)
            if seconds is None:
                return None
            work += min(seconds, GROUP_SECONDS) * count
        return work

    def _resolved(self, block: bool) -> bool:
        session = self.submitter.session
        while any(self.seconds(task_id) is None for task_id in list(self.counts)):
            if not block:
                return False
            with session.cond:
                session.cond.wait(_POLL_SECONDS)
        return True

    # ---- sending ---------------------------------------------------------------------------------
    def _send(self, entries: Sequence[_Entry]) -> None:
        """Entries in order: groups of short runs, long ones alone (a group a long run reads
        is sent before it)."""
        submitter = self.submitter
        limit = min(submitter.inline_limit, MEMBER_INLINE_BYTES)
        group = Group(submitter, limit)
        for entry in entries:
            seconds = self.seconds(entry.task_id)
            if seconds is None or seconds >= LONG_SECONDS:
                if group.reads(entry.call):
                    self._send_group(group)
                    group = Group(submitter, limit)
                slicer = Slicer(submitter, 1)
                single = submitter.single(
                    entry.call, entry.handle, entry.shipped, slicer, submitter.inline_limit
                )
                self._sent(dask_entry.run_one, single)
                continue
            if len(group) and (
                not group.takes(entry.shipped)
                or group.seconds + seconds > GROUP_SECONDS
                or len(group) >= MAX_GROUP
            ):
                self._send_group(group)
                group = Group(submitter, limit)
            group.add(entry.call, entry.handle, entry.shipped, entry.task_id, seconds)
        if len(group):
            self._send_group(group)

    def _send_group(self, group: Group) -> None:
        from taskrun.dask.groups import run_group

        self._sent(run_group, group.close())

    def _sent(self, function: Any, ready: tuple[Submitted, Any]) -> None:
        """Send one Dask task; release it at once if every run in it was released already."""
        self.submitter.send(function, [ready])
        submitted = ready[0]
        submitted.releases = sum(1 for handle in submitted.handles if handle.released)
        if submitted.releases >= len(submitted.handles):
            self.submitter.session.release(submitted)

    # ---- the background flush ------------------------------------------------------------------
    def _start_thread(self) -> None:
        if self._thread is None and not self.closed:
            self._thread = threading.Thread(
                target=self._flush_when_quiet, daemon=True, name="orchestrator-coalescing"
            )
            self._thread.start()

    def _flush_when_quiet(self) -> None:
        """Send what is gathered once the submitting thread pauses (background thread)."""
        while True:
            with self.cond:
                while not self.entries and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return
                now = time.monotonic()
                due = min(self.last + QUIET_SECONDS, self.first + MAX_WAIT_SECONDS)
                if self.hold:  # a pass over a DAG: its end or a wait sends them
                    self.cond.wait(MAX_WAIT_SECONDS)
                    continue
                if now < due:
                    self.cond.wait(due - now)
                    continue
            with self.lock:
                sent = self.closed or self.flush(block=False)
            if not sent:
                time.sleep(_POLL_SECONDS)

    def close(self) -> None:
        """Stop the background thread (the session is closing)."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)


def send_now(submitter: Submitter | None, handles: Sequence[Any]) -> None:
    """Send what ``submitter`` gathered if any of ``handles`` is among it (None: closed)."""
    if submitter is not None:
        submitter.coalescer.send_now(handles)


def _joinable(call: TaskRunCall) -> bool:
    """Whether a call may be gathered: no element cut from an upstream result (the cut
    needs the upstream's Dask task), and its task does not ask for batch_size=1."""
    if getattr(call.task, "batch_size", None) == 1:
        return False
    return all(ref.index is None for ref in call.upstream)
