"""A runner held open around many runs stays flat: registry, memory, workers, scheduler.

Seen before, over 300 small runs on ``with DaskTaskRunner(...) as runner:``: the
session's registry grew by every Dask task ever submitted, this process by ~20 KB per
run, each run left its reference tasks' results in worker memory until the runner
closed (and Dask computed them again whenever a worker died), and every closed session
left its event topic on the scheduler (an unsubscribe that arrived after the topic was
dropped made it again). Now: after 50 warm-up runs, 300 more leave the registry empty,
this process within 1 KB per run, no Dask task of a finished run on the workers or the
scheduler; closed sessions leave no topic of theirs and no subscription behind.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import dask
import psutil  # type: ignore[import-untyped]  # no stubs installed
import pytest

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.cluster_watch import MEMORY_TOPIC

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WARM_UP = 50
RUNS = 300
#: what the process may grow by per run, measured over ``RUNS`` after the warm-up
BYTES_PER_RUN = 1024


@task
def plus_one(x: int) -> int:
    return x + 1


def _small_flow() -> Flow:
    with Flow("small") as flow:
        first = plus_one(1)
        second = plus_one(first)
        plus_one.map(x=[first, second])
    return flow


def _scheduler_tasks(dask_scheduler: Any) -> int:
    """On the scheduler: how many Dask tasks it knows (any state)."""
    return len(dask_scheduler.tasks)


def _topics(dask_scheduler: Any) -> dict[str, tuple[list[str], list[str]]]:
    """On the scheduler: each event topic's event actions and subscribers."""
    return {
        name: (
            [str(msg.get("action")) if isinstance(msg, dict) else "?" for _, msg in topic.events],
            sorted(topic.subscribers),
        )
        for name, topic in dask_scheduler._broker._topics.items()
    }


@pytest.fixture(scope="module")
def address(module_processes: Processes) -> str:
    scheduler = module_processes.scheduler()
    module_processes.worker(scheduler.address, "--nthreads", "2")
    wait_for_workers(scheduler.address, 1)
    return scheduler.address


def test_300_runs_on_a_held_open_runner_leave_nothing_behind(
    address: str, caplog: pytest.LogCaptureFixture
) -> None:
    flow = _small_flow()
    process = psutil.Process()
    # Dask's client keeps its last messages for developers (1000 by default, each up to a
    # graph): bounded, but it would take most of the measured runs to fill up. Ten keep
    # it out of a measurement meant for what this project keeps.
    # Task runs log at INFO, and pytest keeps every record it captures: at WARNING none
    # is made (the workers are told the level when the runner opens).
    caplog.set_level(logging.WARNING, logger="orchestrator")
    with (
        dask.config.set({"distributed.admin.low-level-log-length": 10}),
        DaskTaskRunner(address=address) as runner,
    ):
        for _ in range(WARM_UP):
            assert flow.run(task_runner=runner).is_successful()
        gc.collect()
        session = runner._session
        assert session is not None
        registry = len(session.by_key)
        rss = process.memory_info().rss
        for run in range(RUNS):
            assert flow.run(task_runner=runner).is_successful()
            if run % 10 == 9:
                # Each run's handles and Dask futures form reference cycles, freed by the
                # cycle collector; waiting for its rare full passes would only measure how
                # high the heap got in between, so collect as a long-lived process would.
                gc.collect()
        gc.collect()
        grown = process.memory_info().rss - rss
        assert len(session.by_key) == registry == 0
        assert grown <= BYTES_PER_RUN * RUNS, f"{grown / RUNS:.0f} bytes per run"
        client = runner.client
        assert sum(len(keys) for keys in client.has_what().values()) == 0
        assert client.run_on_scheduler(_scheduler_tasks) == 0


def test_a_result_kept_on_a_worker_lives_as_long_as_its_state(address: str) -> None:
    @task
    def big() -> bytes:
        return b"x" * 2048

    with Flow("keeps") as flow:
        kept = big()
    with DaskTaskRunner(address=address, inline_result_bytes=1024) as runner:
        state = flow.run(task_runner=runner)
        client = runner.client
        assert sum(len(keys) for keys in client.has_what().values()) == 1
        assert state.result()[kept].result() == b"x" * 2048  # fetched from the worker
        del state
        gc.collect()
        deadline = time.monotonic() + 10
        while sum(len(keys) for keys in client.has_what().values()):
            assert time.monotonic() < deadline, "the result outlived its state"
            time.sleep(0.1)
        assert sum(len(keys) for keys in client.has_what().values()) == 0


def test_closed_sessions_leave_no_topic_or_subscription_on_the_scheduler(address: str) -> None:
    from distributed import Client

    client_class: Any = Client  # untyped in distributed
    flow = _small_flow()
    with client_class(address, timeout=20) as observer:
        before = observer.run_on_scheduler(_topics)
        clients = []
        for _ in range(3):
            with DaskTaskRunner(address=address) as runner:
                clients.append(runner.client.id)
                assert flow.run(task_runner=runner).is_successful()
        after = observer.run_on_scheduler(_topics)
    left = {name: after[name] for name in set(after) - set(before)}
    assert not [name for name in left if name.startswith("orchestrator-")], left
    assert MEMORY_TOPIC not in left, left
    # Dask itself logs a closing client's "remove-client" to the client's own topic
    assert all(name in clients for name in left), left
    assert all(set(actions) == {"remove-client"} for actions, _ in left.values()), left
    subscribed = {s for _, (_, subscribers) in after.items() for s in subscribers}
    assert not subscribed & set(clients), after
