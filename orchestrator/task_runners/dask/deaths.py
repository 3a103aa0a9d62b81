"""Worker deaths and who caused them: the evidence behind blaming a task run.

Dask counts a worker's death against every task the worker had been sent, running or
merely queued behind the one that crashed it (``TaskState.suspicious``), and after
``allowed-failures`` such deaths raises ``KilledWorker`` for each of them. A task that
only ever waited beside a crashing one would so fail for deaths it did not cause. This
ledger keeps, for each death the scheduler reports (its ``remove-worker`` event), which
of our Dask tasks the worker had (in Dask's priority order: the order they were
submitted in) and which had reported Running from it, and what the nanny said
(``worker-restart-memory``). It names the culprit of each death by the evidence:

    the nanny restarted the worker for memory  -> ours that reported Running there (a
                                                  task grows for a while before the
                                                  nanny acts), else the first in line
    a sudden death (a segfault, os._exit, a    -> the first of ours in priority order:
    kill), or it had only one task of ours        the task the worker's thread takes first

Running reports are not trusted for sudden deaths: a task that finished a moment before
the next one crashed the worker still looks running (neither its summary nor Dask's
word of it left the worker), and that is how a killer queued behind a short task dies.
When Dask gives up on a task, ``verdict`` reads its deaths:

    the culprit of at least one of them  -> CULPRIT: fail it, naming the deaths
    never the culprit                    -> BYSTANDER: resubmit it (a fresh count)
    no death recorded                    -> CULPRIT (Dask's own word, as before)

Priority order is the worker's only among tasks ready at once; a task whose inputs were
still on their way, or a worker with several threads, can make the first in line a
bystander. So one death as the culprit is enough to be failed (a true culprit is never
resubmitted past Dask's count), and a bystander wrongly blamed fails as before this
ledger existed: the evidence only ever spares tasks, it never blames one Dask spared.

Only deaths Dask counts enter (``expected`` removals, such as a retired worker, do not).
Entries go when their Dask task is settled or finishes, so the ledger stays small.
Written on the client's event loop, read in callers' threads: one lock. No Dask imports.
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections.abc import Collection, Iterable, MutableMapping, Sequence
from typing import Any, NamedTuple

#: memory restarts remembered (oldest forgotten first)
_REMEMBERED = 4096


class Role(enum.Enum):
    """What the evidence says a Dask task Dask gave up on did to its workers."""

    CULPRIT = "culprit"
    BYSTANDER = "bystander"


class Death(NamedTuple):
    """One unexpected removal of a worker, as the scheduler reported it."""

    #: counts deaths in this session (a resubmission's cause names the deaths it answers)
    serial: int
    worker: str
    #: our keys the worker had been sent, in Dask's priority order
    ours: tuple[str, ...]
    #: those of ours whose task run had reported Running from that worker
    running: frozenset[str]

    def culprits(self, for_memory: bool) -> frozenset[str]:
        """Who crashed the worker, by the evidence (``for_memory``: the nanny said it
        restarted the worker for exceeding its memory budget)."""
        if for_memory and self.running:
            return self.running
        return frozenset(self.ours[:1])


class Verdict(NamedTuple):
    """The ledger's answer for one Dask task (see the module docstring)."""

    role: Role
    deaths: tuple[Death, ...]
    #: deaths of workers the nanny restarted for exceeding their memory budget
    memory_deaths: int
    #: the most memory such a worker was seen using (bytes), if reported
    memory_bytes: int | None

    @property
    def cause(self) -> str:
        """Names these deaths: resubmitting twice for the same deaths would be a loop."""
        serials = ", ".join(f"#{d.serial}" for d in self.deaths)
        workers = ", ".join(sorted({d.worker for d in self.deaths}))
        return f"a {self.role.value} of worker deaths {serials} ({workers})"


class DeathLedger:
    """Deaths per Dask key of ours, and memory restarts per worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serials = itertools.count(1)
        self._deaths: dict[str, list[Death]] = {}
        #: worker address -> largest memory the nanny reported when restarting it
        self._memory: dict[str, int] = {}

    def record(self, worker: str, ours: Sequence[str], running: Collection[str]) -> Death:
        """Note one death of ``worker`` (event-loop thread).

        Args:
            ours: our keys the worker had been sent, in Dask's priority order (the order
                they were submitted in).
            running: those whose task run reported Running from this worker.
        """
        with self._lock:
            death = Death(next(self._serials), worker, tuple(ours), frozenset(running))
            for key in ours:
                self._deaths.setdefault(key, []).append(death)
            return death

    def memory_restart(self, worker: str, used: int | None) -> None:
        """The nanny restarted ``worker`` for exceeding its memory budget, at ``used`` bytes."""
        with self._lock:
            self._memory[worker] = max(used or 0, self._memory.get(worker, 0))
            _trim(self._memory)

    def verdict(self, key: str) -> Verdict:
        """What the recorded deaths say about ``key`` (see the module docstring)."""
        with self._lock:
            deaths = tuple(self._deaths.get(key, ()))
            memory = [self._memory[d.worker] for d in deaths if d.worker in self._memory]
            crashed = not deaths or any(key in self.culprits(death) for death in deaths)
        role = Role.CULPRIT if crashed else Role.BYSTANDER
        return Verdict(role, deaths, len(memory), max(memory) if any(memory) else None)

    def culprits(self, death: Death) -> frozenset[str]:
        """Who crashed the worker of ``death``, with what the nanny said of it so far."""
        return death.culprits(for_memory=death.worker in self._memory)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the deaths of settled or finished Dask tasks."""
        with self._lock:
            for key in keys:
                self._deaths.pop(key, None)

    def tracked(self) -> list[str]:
        """Keys with recorded deaths (to prune those that finished)."""
        with self._lock:
            return list(self._deaths)


def _trim(remembered: MutableMapping[str, Any]) -> None:
    while len(remembered) > _REMEMBERED:
        del remembered[next(iter(remembered))]
