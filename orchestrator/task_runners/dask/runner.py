"""DaskTaskRunner: task runs on a Dask cluster, embedded or remote.

Without an address each session starts a temporary cluster (``LocalCluster``, or
``cluster_class(**cluster_kwargs)``, adapted with ``adapt_kwargs``) and closes it at shutdown; a
``LocalCluster`` listens on 127.0.0.1 only (its dashboard too), unless ``cluster_kwargs`` say
otherwise. With an address it connects to that scheduler (the address is checked when the runner is
built; connecting is bounded by the timeout, see ``connection``); ``security`` (a
``distributed.security.Security``) turns on TLS for both. One flow run is one session
(``start``..``shutdown``); a runner used as a context manager around several runs keeps one session
open for all of them (nested starts are counted).

How a task run travels (details in ``submit``, ``session``, ``taskrun.dask.entry``):

    submit(call) -> one Dask task ``run_one(task, context, topic, plan, args)`` keyed
                    ``add_one-1f2e3d4c-17-<run>``, upstream Dask futures in ``args``
    worker       -> executor runs the task run; its State (result inside) stays in worker
                    memory; a summary (kind, message, timings, length, small result)
                    goes to this process as a Dask event
    wait/shape   -> read the summary; never pull a result to learn a state

Results: a result that pickles to at most ``inline_result_bytes`` (per mapped level, a share of 64
times that) comes back with its state; a bigger one stays on the cluster and ``state.result()``
fetches it while the session is open; after shutdown it raises ``ResultNotAvailableError`` saying
so. ``release(handle)`` (the flow runner calls it once every downstream task run was submitted)
lets the cluster drop a result -- unless the runner is held open around the run: then a result
stays for as long as its state is reachable (``remote_results``). Nothing that arrives from the
cluster is unpickled here until someone reads a result (``taskrun.dask.pickled``), and events count
only when sealed with the session's secret (``taskrun.dask.sealing``).

>>> DaskTaskRunner(address="tcp://127.0.0.1:8786")
DaskTaskRunner(address='tcp://127.0.0.1:8786')
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from orchestrator.journal.records import StateRecord
from orchestrator.task_runners.base import BaseTaskRunner, FinalListener
from orchestrator.task_runners.dask import coalescing
from orchestrator.task_runners.dask.batching import DurationEstimates
from orchestrator.task_runners.dask.cancelling import cancel_unfinished
from orchestrator.task_runners.dask.cluster_options import (
    check_cluster_options,
    resolve_cluster_class,
)
from orchestrator.task_runners.dask.cluster_watch import FROM_CONFIG, no_workers_seconds
from orchestrator.task_runners.dask.connection import (
    SchedulerAddressError,
    SchedulerUnreachableError,
    check_cluster_security,
    check_scheduler_address,
    connect_client,
    shares_local_disk,
)
from orchestrator.task_runners.dask.dashboard import dashboard_link
from orchestrator.task_runners.dask.handles import (
    ClosedSession,
    DaskHandle,
    ResultNotAvailableError,
)
from orchestrator.task_runners.dask.main_guard import check_main_guard
from orchestrator.task_runners.dask.releases import release_all
from orchestrator.task_runners.dask.session import DaskSession
from orchestrator.task_runners.dask.submit import Submitter
from orchestrator.task_runners.dask.summary_records import summary_record
from taskrun.dask.records import FinalRecord
from taskrun.states import State
from taskrun.wire import ResultShape, TaskRunCall

__all__ = [
    "DaskTaskRunner",
    "ResultNotAvailableError",
    "SchedulerAddressError",
    "SchedulerUnreachableError",
]

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: largest result (pickled bytes) that comes back with its state
INLINE_RESULT_BYTES = 1 << 20


class DaskTaskRunner(BaseTaskRunner[DaskHandle]):
    """Runs task runs on a Dask cluster: a temporary local one, or the one at ``address``.

    Args:
        address: a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
        cluster_class: the cluster to start when there is no address (a class, or its
            import path such as ``"dask_jobqueue.SLURMCluster"``); default ``LocalCluster``.
        cluster_kwargs: keyword arguments for ``cluster_class``.
        adapt_kwargs: if given, ``cluster.adapt(**adapt_kwargs)`` (e.g. ``{"maximum": 8}``).
        client_kwargs: keyword arguments for ``distributed.Client``; ``timeout`` (seconds,
            default 20) bounds connecting to ``address``.
        security: a ``distributed.security.Security`` (TLS certificates) for the Client and
            the embedded cluster; needed for a ``tls://`` address.
        inline_result_bytes: results that pickle to at most this many bytes come back with
            their states; bigger ones stay on the cluster (see the module docstring).
        no_workers_timeout: seconds to wait for a worker once the cluster lost all its
            workers, before unfinished task runs fail saying so; None waits with no limit.
            Default ``"config"``: Dask's ``distributed.scheduler.no-workers-timeout`` when
            set, else 60 (see ``cluster_watch``).
    """

    submits_in_bulk = True

    def __init__(
        self,
        address: str | None = None,
        cluster_class: Any = None,
        cluster_kwargs: dict[str, Any] | None = None,
        adapt_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        *,
        inline_result_bytes: int = INLINE_RESULT_BYTES,
        security: Any = None,
        no_workers_timeout: float | str | None = FROM_CONFIG,
    ) -> None:
        no_workers_seconds(no_workers_timeout)  # refuse a wrong value now, not at start
        given = [
            name
            for name, value in (
                ("cluster_class", cluster_class),
                ("cluster_kwargs", cluster_kwargs),
                ("adapt_kwargs", adapt_kwargs),
            )
            if value
        ]
        if address is not None and given:
            raise ValueError(
                f"DaskTaskRunner(address={address!r}) connects to a running cluster, "
                f"so {', '.join(given)} cannot apply. Pass either an address or "
                "cluster options, not both."
            )
        if address is not None:
            check_scheduler_address(address)
        else:  # a class naming nothing or a misspelt keyword: refused now, not at start
            check_cluster_options(cluster_class, cluster_kwargs)
        if security is not None and "security" in (client_kwargs or {}):
            raise ValueError(
                "DaskTaskRunner got security twice: as security= and in client_kwargs. "
                "Pass it once, as security=Security(...)."
            )
        if address is None and security is not None and "security" not in (cluster_kwargs or {}):
            check_cluster_security(security)
        self.address = address
        self.security = security
        self.cluster_class = cluster_class
        self.shares_local_storage = shares_local_disk(address, cluster_class)
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs) if adapt_kwargs is not None else None
        self.client_kwargs = dict(client_kwargs or {})
        self.inline_result_bytes = inline_result_bytes
        self.no_workers_timeout = no_workers_timeout
        #: seconds per mapped child, per task, measured across this runner's sessions
        self.estimates = DurationEstimates()
        self._lock = threading.RLock()
        #: one submission at a time (flow runs sharing an open runner submit from their threads)
        self._submitting = threading.RLock()
        self._depth = 0
        self._session: DaskSession | None = None
        self._submitter: Submitter | None = None
        self._threads: tuple[float, int] = (0.0, 1)
        self._dashboard = ""

    def __copy__(self) -> DaskTaskRunner:
        """An open runner is shared (its session serves every copy); a closed one is copied
        unstarted, keeping the measured durations."""
        if self._depth:
            return self
        twin = DaskTaskRunner(
            self.address,
            self.cluster_class,
            self.cluster_kwargs or None,
            self.adapt_kwargs,
            self.client_kwargs or None,
            inline_result_bytes=self.inline_result_bytes,
            security=self.security,
            no_workers_timeout=self.no_workers_timeout,
        )
        twin.estimates = self.estimates
        return twin

    # ---- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:  # held open around this run: its results stay fetchable
                if self._session is not None:
                    self._session.keep_results = True
                return
            try:
                self._open()
            except BaseException:
                self._depth -= 1
                raise

    def shutdown(self) -> None:
        with self._lock:
            if self._depth == 0:
                return
            self._depth -= 1
            if self._depth == 0:
                self._close()

    def _open(self) -> None:
        from taskrun.dask.plugin import OrchestratorPlugin

        client, cluster = self._connect()
        try:
            session = DaskSession(
                client,
                f"orchestrator-{uuid.uuid4().hex[:12]}",
                self.estimates,
                cluster,
                no_workers_seconds(self.no_workers_timeout),
            )
            session.subscribe()
            level = logging.getLogger("orchestrator").getEffectiveLevel()
            client.register_plugin(OrchestratorPlugin(level=level), name=OrchestratorPlugin.name)
        except BaseException:
            _close_quietly(client, cluster)
            raise
        try:  # kept on the runner: futures read it for displays after the session closed
            session.dashboard = self._dashboard = dashboard_link(client, cluster)
        except Exception:  # a display detail must not fail anything
            session.dashboard = ""
        self._session = session
        self._submitter = Submitter(
            session, self.inline_result_bytes, self._thread_count, self._submitting
        )
        logger.debug("Connected to Dask scheduler %s", client.scheduler.address)

    def _connect(self) -> tuple[Any, Any]:
        from distributed import Client as _Client
        from distributed import LocalCluster

        client_class: Any = _Client  # untyped in distributed

        if self.address is not None:
            return connect_client(self.address, self.security, self.client_kwargs), None
        cluster_class = resolve_cluster_class(self.cluster_class or LocalCluster)
        kwargs = dict(self.cluster_kwargs)
        if self.security is not None:
            kwargs.setdefault("security", self.security)
        if cluster_class is LocalCluster:
            # LocalCluster's scheduler, nannies and workers bind 127.0.0.1 already; its
            # dashboard would bind every interface: keep it on this machine too.
            kwargs.setdefault("dashboard_address", "127.0.0.1:0")
        check_main_guard(cluster_class, kwargs)  # worker processes re-import __main__
        cluster = cluster_class(**kwargs)
        client_kwargs = dict(self.client_kwargs)
        if self.security is not None:
            client_kwargs["security"] = self.security
        try:
            if self.adapt_kwargs is not None:
                cluster.adapt(**self.adapt_kwargs)
            return client_class(cluster, **client_kwargs), cluster
        except BaseException:
            cluster.close()
            raise

    def _close(self) -> None:
        session, submitter = self._session, self._submitter
        self._session = self._submitter = None
        if session is None or submitter is None:
            return
        submitter.coalescer.close()
        session.close()
        session.watch.forget_on_scheduler()
        _close_quietly(session.client, session.cluster)

    def _thread_count(self) -> int:
        """Worker threads in the cluster (asked at most every two seconds)."""
        checked, count = self._threads
        if time.monotonic() - checked > 2.0:
            try:
                count = max(1, sum(self._open_session().client.nthreads().values()))
            except Exception:  # a guess serves batching well enough
                count = max(1, count)
            self._threads = (time.monotonic(), count)
        return count

    def _open_session(self) -> DaskSession:
        session = self._session
        if session is None:
            raise RuntimeError(
                "DaskTaskRunner is not started; use it as a context manager "
                "(with DaskTaskRunner(...) as runner:) or pass it to a flow run."
            )
        return session

    @property
    def client(self) -> Any:
        """The session's ``distributed.Client`` (while started)."""
        return self._open_session().client

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard of the last session's cluster (None when it has none)."""
        return self._dashboard or None

    # ---- the task-runner contract ---------------------------------------------------------------
    def submit(self, call: TaskRunCall) -> DaskHandle:
        with self._submitting:
            self._open_session()
            assert self._submitter is not None
            return self._submitter.submit(call)

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        with self._submitting:
            self._open_session()
            assert self._submitter is not None
            return self._submitter.submit_many(calls)

    def given(self, state: State) -> DaskHandle:
        return DaskHandle(f"given {state.name} state", state=state)

    def wait(self, handle: DaskHandle, timeout: float | None = None) -> State | None:
        if handle.state is not None:
            return handle.state
        coalescing.send_now(self._submitter, [handle])  # gathered, not sent yet? now
        return self._session_for(handle).wait(handle, timeout)

    def get_state(self, handle: DaskHandle) -> State:
        if handle.state is not None:
            return handle.state
        return self._session_for(handle).get_state(handle)

    def final_record(self, handle: DaskHandle) -> StateRecord | None:
        raw = handle.record  # the final summary, until a state is built from it
        return super().final_record(handle) if raw is None else summary_record(FinalRecord(*raw))

    def shape(self, handle: DaskHandle, flattened: bool = False) -> ResultShape:
        if handle.submitted is None:
            return super().shape(handle, flattened)
        return self._open_session().shape(handle, flattened)

    def gathering(self) -> AbstractContextManager[None]:
        """Runs submitted inside go to Dask together (``coalescing``), sent when it ends."""
        submitter = self._submitter
        return nullcontext() if submitter is None else submitter.coalescer.holding()

    def release(self, handle: DaskHandle | Sequence[DaskHandle]) -> None:
        """Nothing downstream will read this run's result from the cluster any more."""
        handles = handle if isinstance(handle, list) else [handle]
        found = [item for item in handles if isinstance(item, DaskHandle)]
        release_all(self._submitter, found, self._session)

    def cancel(self, handles: Sequence[DaskHandle]) -> None:
        """Cancel these runs' Dask tasks on the scheduler (see ``dask.cancelling``)."""
        coalescing.send_now(self._submitter, handles)
        cancel_unfinished(self._session, handles)

    def watch(self, listener: FinalListener[DaskHandle]) -> Callable[[], None] | None:
        """Tell ``listener`` of each final summary (from the client's event loop) and of each
        failure settled here; None while not started."""
        session = self._session
        return None if session is None else session.listeners.add(listener)

    def describe(self, handle: DaskHandle) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if handle.key is not None:
            details["dask_key"] = handle.key
        if self._dashboard:
            details["dashboard"] = self._dashboard
        return details

    def _session_for(self, handle: DaskHandle) -> DaskSession:
        session = self._session
        if session is None:
            return ClosedSession()  # type: ignore[return-value]
        return session

    def __repr__(self) -> str:
        if self.address is not None:
            return f"DaskTaskRunner(address={self.address!r})"
        shown = [f"cluster_class={self.cluster_class!r}"] if self.cluster_class else []
        shown += [f"cluster_kwargs={self.cluster_kwargs!r}"] if self.cluster_kwargs else []
        shown += [f"adapt_kwargs={self.adapt_kwargs!r}"] if self.adapt_kwargs is not None else []
        return f"DaskTaskRunner({', '.join(shown)})"


def _close_quietly(client: Any, cluster: Any) -> None:
    for closable in (client, cluster):
        if closable is None:
            continue
        try:
            closable.close()
        except Exception:  # shutting down: report, do not mask the run's outcome
            logger.warning("Could not close %r cleanly", closable, exc_info=True)
