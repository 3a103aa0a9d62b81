"""Runner environments: a started backend plus its baseline, created once per runner name.

    sequential    SequentialTaskRunner in this process; baseline: a plain Python loop
    dask-threads  DaskTaskRunner(address=...) on LocalCluster(processes=False, n_workers=1,
                  threads_per_worker=2); baseline: a Client on the same cluster
    dask-procs    the same on LocalCluster(processes=True, n_workers=2, threads_per_worker=1)

The cluster starts before any timing and every run on it (ours or raw) reuses it, so
cluster start-up is never measured. Our runner connects by address, as users do with
a running cluster; its session (one Client per flow run) is part of what we measure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.task_runners import SequentialTaskRunner

RUNNERS = ("sequential", "dask-threads", "dask-procs")

_CLUSTER_KWARGS: dict[str, dict[str, Any]] = {
    "dask-threads": {"processes": False, "n_workers": 1, "threads_per_worker": 2},
    "dask-procs": {"processes": True, "n_workers": 2, "threads_per_worker": 1},
}


def dask_runner_problem() -> str | None:
    """Why ``DaskTaskRunner`` cannot be used yet, or None when it can."""
    try:
        from orchestrator.task_runners import DaskTaskRunner  # noqa: F401
    except Exception as err:  # any import failure means "not available yet"
        return f"DaskTaskRunner unavailable ({type(err).__name__}: {err})"
    return None


@dataclass
class RunnerEnv:
    """One started runner: how to make our task runner, and the raw baseline's client."""

    name: str
    cluster: Any = None
    client: Any = None
    #: why our orchestrator cannot run here (rows keep the baseline only)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> str:
        return "loop" if self.cluster is None else "dask"

    @property
    def address(self) -> str | None:
        return None if self.cluster is None else str(self.cluster.scheduler_address)

    def task_runner(self) -> Any:
        """A fresh task runner of ours for one flow run."""
        if self.cluster is None:
            return SequentialTaskRunner()
        from orchestrator.task_runners import DaskTaskRunner

        return DaskTaskRunner(address=self.address)

    def settle(self, timeout: float = 60.0) -> int:
        """Wait until the scheduler holds no tasks (the last run's were released).

        Returns the number of tasks still held when ``timeout`` passed (0 when clean), so a
        run that leaks Dask futures shows up instead of slowing the next one silently.
        """
        if self.cluster is None:
            return 0
        deadline = time.monotonic() + timeout
        while True:
            held = len(self.cluster.scheduler.tasks)
            if held == 0 or time.monotonic() > deadline:
                return held
            time.sleep(0.02)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_runner(name: str) -> RunnerEnv:
    """Start the runner ``name`` (a cluster for the Dask ones); close it with ``close()``."""
    if name == "sequential":
        return RunnerEnv(name)
    if name not in _CLUSTER_KWARGS:
        raise ValueError(f"unknown runner {name!r}; choose from {', '.join(RUNNERS)}")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(  # type: ignore[no-untyped-call]  # distributed is untyped
        **_CLUSTER_KWARGS[name], dashboard_address=":0", silence_logs=logging.ERROR
    )
    client = Client(cluster.scheduler_address)  # type: ignore[no-untyped-call]  # untyped
    return RunnerEnv(name, cluster, client, problem=dask_runner_problem())
