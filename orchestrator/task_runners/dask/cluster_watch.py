"""ClusterWatch: what the scheduler says about a session's workers, and what follows.

A session subscribes to two of the scheduler's event topics (Dask publishes both
anyway, a few messages per worker coming or going, never per task):

    "all"                     add-worker / remove-worker (with the keys the worker had)
    "worker-restart-memory"   a nanny restarted its worker for exceeding its memory budget

and so learns, with no polling, of

- each death of a worker: which Dask tasks of ours it had and which of them were
  running there (``DeathLedger``, used when Dask gives up on a task, see ``repair``);
- the last worker leaving: a WARNING naming the scheduler and the unfinished task runs
  (unless a worker is back within ``WARN_AFTER`` seconds), and a bounded wait (the
  runner's ``no_workers_timeout``) for a worker to join; when none does, every
  unfinished task run fails saying so (``NoWorkersError``), and so do task runs
  submitted later, until a worker joins. A cluster that never had a worker
  (one still starting, or adapting from zero) is not lost: only losing them starts the
  clock, or submitting after they were lost; nor is one whose last worker was retired
  while nothing ran (an adaptive cluster scaling down).

The scheduler's own loss is learnt where Dask reports it, on the futures (it cancels
them all, saying why): ``repair`` calls ``scheduler_lost``, which fails every unfinished
task run naming the scheduler (``SchedulerLostError``) and refuses new ones. At shutdown
``forget_on_scheduler`` undoes the session's subscriptions and topics.

Threading: the handlers and the clock run on the client's event loop; ``submitted``,
``scheduler_lost`` and ``refusal`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask import repair as dask_repair
from orchestrator.task_runners.dask.deaths import DeathLedger
from orchestrator.task_runners.dask.faults import NoWorkersError, SchedulerLostError, error_state
from taskrun.states import State

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: the scheduler's topic with worker arrivals and departures
CLUSTER_TOPIC = "all"
#: the topic a nanny reports memory restarts on
MEMORY_TOPIC = "worker-restart-memory"
#: seconds without workers before unfinished task runs fail, when Dask's config sets none
NO_WORKERS_TIMEOUT = 60.0
#: seconds without workers before the warning (at most half the timeout)
WARN_AFTER = 2.0
#: ``DaskTaskRunner(no_workers_timeout=...)``: seconds, None (no limit), or this (the default)
FROM_CONFIG = "config"


def no_workers_seconds(option: float | str | None) -> float | None:
    """The wait for a worker that ``no_workers_timeout=option`` means: seconds, None for
    no limit; ``"config"`` takes Dask's ``distributed.scheduler.no-workers-timeout`` when
    set, else ``NO_WORKERS_TIMEOUT``.

    Raises:
        ValueError: ``option`` is neither of those.
    """
    if option is None:
        return None
    if option == FROM_CONFIG:
        import dask
        from dask.utils import parse_timedelta

        configured = dask.config.get("distributed.scheduler.no-workers-timeout", None)
        seconds = parse_timedelta(configured, "seconds") if configured is not None else None
        return NO_WORKERS_TIMEOUT if seconds is None else float(seconds)
    if isinstance(option, (int, float)) and not isinstance(option, bool) and option > 0:
        return float(option)
    raise ValueError(
        f"DaskTaskRunner(no_workers_timeout={option!r}): expected seconds (a number above "
        "0), None to wait for workers with no limit, or 'config' for Dask's "
        "distributed.scheduler.no-workers-timeout (60 s when unset)."
    )


class ClusterWatch:
    """Workers of a session's cluster, as the scheduler's events tell (see the module)."""

    def __init__(self, session: DaskSession, no_workers_timeout: float | None) -> None:
        self.session = session
        self.no_workers_timeout = no_workers_timeout
        self.deaths = DeathLedger()
        self.workers: set[str] = set()
        #: the last worker left (and none joined since)
        self.lost_all = False
        #: the wait for a worker has run out (and none joined since): submissions fail
        self.expired = False
        #: the client lost the scheduler: nothing runs in this session any more
        self.lost = False
        self._timer: Any = None
        self._warning: Any = None
        self._warned = False
        self._last_worker = ""

    # ---- lifetime (caller's thread) ------------------------------------------------------------
    def start(self) -> None:
        """Subscribe to the scheduler's worker events, then note the workers there now."""
        client = self.session.client
        client.subscribe_topic(CLUSTER_TOPIC, self.on_cluster_event)
        client.subscribe_topic(MEMORY_TOPIC, self.on_memory_event)
        try:
            self.workers.update(client.nthreads())
        except Exception:  # the events still tell; a missed snapshot only delays a warning
            logger.debug("Could not list the workers of %s", self.scheduler, exc_info=True)

    def stop(self) -> None:
        """Stop the clock (the session is closing; a late timer would find it closed)."""
        for timer in (self._timer, self._warning):
            if timer is None:
                continue
            try:
                self.session.client.loop.add_callback(timer.cancel)
            except Exception:  # the loop is gone already, and the timer with it
                logger.debug("Could not stop the no-workers clock", exc_info=True)
        self._timer = self._warning = None

    @property
    def scheduler(self) -> str:
        return self.session.scheduler_address

    def submitted(self) -> None:
        """Task runs were submitted while the cluster had lost its workers: start the clock
        (any thread)."""
        if self._timer is None and self._warning is None and not self.expired:
            self.session.client.loop.add_callback(self._start_clock)

    def refusal(self) -> Callable[[str], State] | None:
        """Why nothing can be submitted now (the state a task run gets instead), or None."""
        if self.lost:
            return self._scheduler_lost_state
        return self._no_workers_state if self.expired else None

    def scheduler_lost(self) -> None:
        """The client lost the scheduler (Dask cancelled every future): fail every
        unfinished task run naming it, and refuse new ones. Any thread."""
        if self.lost:
            return
        self.lost = True
        failed = dask_repair.fail_unfinished(self.session, self._scheduler_lost_state)
        logger.warning(
            "Lost the connection to the Dask scheduler at %s: %d unfinished task runs failed.",
            self.scheduler,
            failed,
        )

    def forget_on_scheduler(self) -> None:
        """Leave the scheduler as it was: end this client's subscriptions and drop the
        topics of the session and its client with their events, in one call (an
        unsubscribe sent apart could arrive after the topic was dropped, and create it
        again). Skipped once the scheduler is lost; a scheduler that cannot import this
        module only costs a debug line."""
        if self.lost:
            return
        session = self.session
        client = session.client
        try:
            client.run_on_scheduler(
                _forget_subscriptions,
                client=client.id,
                # the session's topic, and the one Dask logs this client's graphs to
                drop=[session.topic, client.id],
                if_empty=[MEMORY_TOPIC],
            )
        except Exception:  # the scheduler may be gone, or unable to import this module
            logger.debug("Could not clean up topic %s", session.topic, exc_info=True)

    def _scheduler_lost_state(self, name: str) -> State:
        return error_state(SchedulerLostError(name, self.scheduler))

    def _no_workers_state(self, name: str) -> State:
        return error_state(NoWorkersError(name, self.scheduler, self.no_workers_timeout or 0.0))

    # ---- events (event loop) -------------------------------------------------------------------
    def on_cluster_event(self, event: Any) -> None:
        message = event[1] if isinstance(event, (tuple, list)) else event
        if not isinstance(message, dict):
            return
        action = message.get("action")
        worker = message.get("worker")
        if not isinstance(worker, str):
            return
        if action == "remove-worker":
            self._worker_removed(worker, message)
        elif action == "add-worker":
            self._worker_added(worker)

    def on_memory_event(self, event: Any) -> None:
        message = event[1] if isinstance(event, (tuple, list)) else event
        if isinstance(message, dict) and isinstance(message.get("worker"), str):
            rss = message.get("rss")
            self.deaths.memory_restart(message["worker"], rss if isinstance(rss, int) else None)

    def _worker_removed(self, worker: str, message: dict[str, Any]) -> None:
        processing = [str(key) for key in message.get("processing-tasks") or ()]
        session = self.session
        with session.cond:
            ours = [session.by_key[key] for key in processing if key in session.by_key]
            # a finished one that Dask computes again (its result was lost) is no task run
            # of ours any more: not judged, not first in line, and its Running is old news
            ours = [s for s in ours if not dask_repair.is_finished(s)]
            running = [s.key for s in ours if s.running_on == worker]
            for submitted in ours:
                submitted.running_on = None
        if ours and not message.get("expected"):
            self._forget_finished()
            ours.sort(key=lambda submitted: submitted.serial)  # Dask's priority order
            death = self.deaths.record(worker, [s.key for s in ours], running)
            logger.debug(
                "Dask worker %s died with %d Dask tasks of ours (first in line: %s; "
                "reported running there: %s).",
                worker,
                len(ours),
                death.ours[0],
                ", ".join(sorted(death.running)) or "none",
            )
        self.workers.discard(worker)
        if self.workers or self.lost_all:
            return
        unfinished = session.unfinished_count()
        if not unfinished and message.get("expected"):
            return  # retired while idle: an adaptive cluster scaling down, not a loss
        self.lost_all = True
        self._last_worker = worker
        if unfinished:
            self._start_clock()

    def _forget_finished(self) -> None:
        """Drop the deaths of Dask tasks that finished or were settled since."""
        by_key = self.session.by_key
        self.deaths.forget(
            [k for k in self.deaths.tracked() if k not in by_key or by_key[k].unfinished <= 0]
        )

    def _worker_added(self, worker: str) -> None:
        self.workers.add(worker)
        if self._warned:
            logger.info(
                "Dask worker %s joined scheduler %s; task runs go on.", worker, self.scheduler
            )
        self.lost_all = self.expired = self._warned = False
        for timer in (self._timer, self._warning):
            if timer is not None:
                timer.cancel()
        self._timer = self._warning = None

    def _start_clock(self) -> None:
        """Warn unless a worker is back within ``WARN_AFTER`` seconds (a nanny restarting
        the only worker is not worth a warning), and fail the unfinished task runs when
        none is back within ``no_workers_timeout``."""
        if self._timer is not None or self._warning is not None or not self.lost_all:
            return
        loop = asyncio.get_running_loop()
        seconds = self.no_workers_timeout
        warn_after = WARN_AFTER if seconds is None else min(WARN_AFTER, seconds / 2)
        self._warning = loop.call_later(warn_after, self._warn)
        if seconds is not None:
            self._timer = loop.call_later(seconds, self._expire)

    def _warn(self) -> None:
        self._warning = None
        if not self.lost_all or self.session.closed:
            return
        self._warned = True
        logger.warning(
            "The Dask cluster of scheduler %s lost all its workers (the last: %s) with %d "
            "task runs unfinished. %s",
            self.scheduler,
            self._last_worker,
            self.session.unfinished_count(),
            self._what_next(),
        )

    def _expire(self) -> None:
        self._timer = None
        if not self.lost_all or self.session.closed:
            return
        self.expired = True
        failed = dask_repair.fail_unfinished(self.session, self._no_workers_state)
        logger.warning(
            "No Dask worker joined scheduler %s within %g s: %d unfinished task runs failed.",
            self.scheduler,
            self.no_workers_timeout,
            failed,
        )

    def _what_next(self) -> str:
        if self.no_workers_timeout is None:
            return "Waiting for a worker to join (no_workers_timeout=None: with no limit)."
        return (
            f"Waiting up to {self.no_workers_timeout:g} s for a worker to join before failing "
            "them (DaskTaskRunner(no_workers_timeout=...))."
        )


def _forget_subscriptions(
    dask_scheduler: Any, client: str, drop: Sequence[str], if_empty: Sequence[str]
) -> None:
    """On the scheduler: end ``client``'s subscriptions (Dask keeps a closed client's),
    drop the topics ``drop`` and, if nobody uses them, ``if_empty``."""
    broker = getattr(dask_scheduler, "_broker", None)
    known = getattr(broker, "_topics", None)
    if not isinstance(known, dict):
        return
    for topic in known.values():
        topic.subscribers.discard(client)
    for name in drop:
        known.pop(name, None)
    for name in if_empty:
        topic = known.get(name)
        if topic is not None and not topic.subscribers and not topic.events:
            del known[name]
