"""Another client of the scheduler publishes on a running flow's topic: nothing it sends
runs in the orchestrator, and the flow's states are the real ones.

Seen before: the orchestrator unpickled every event on its topic, so any client that
could reach the scheduler (and read the topic's name off the scheduler's list) could
run code in the orchestrator process, or forge a task run's state. Now events are plain
msgpack sealed with a per-session secret that only the run's task calls carry; the
orchestrator drops the rest unread and logs one WARNING for the topic.
"""

from __future__ import annotations

import hmac
import logging
import os
import pickle
import re
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from distributed import Client

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from taskrun.dask import records as summary
from taskrun.states import Success

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@task
def wait_for(go: str) -> int:
    """Runs until the test says so (a file), so the attacker finds the run in progress."""
    deadline = time.monotonic() + 60
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return 7


@task
def double(x: int) -> int:
    return 2 * x


class _WritesMarker:
    """Unpickling it creates ``path``: proof that someone unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def _processing(dask_scheduler: Any) -> list[str]:
    """On the scheduler: the keys of the Dask tasks being computed."""
    return [str(key) for key, ts in dask_scheduler.tasks.items() if ts.state == "processing"]


def _find_run(attacker: Any, timeout: float = 30) -> tuple[str, str]:
    """What any client can learn: the run's topic (the scheduler's topics) and its key."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = [t for t in attacker.get_events() if str(t).startswith("orchestrator-")]
        keys = attacker.run_on_scheduler(_processing)
        if topics and keys:
            return topics[0], keys[0]
        time.sleep(0.05)
    raise AssertionError("the flow run never showed up on the scheduler")


def _forged_events(key: str, marker: Path) -> list[Any]:
    evil = pickle.dumps(_WritesMarker(marker))
    _, real = summary.summarize(key, None, "x", Success("ok", 1), 1 << 20, 0.0)
    # a Success of 666 for the running task run, its "result" a pickle that writes the marker
    record = list(real._replace(result_blob=evil, result_type="int"))
    packed = msgpack.packb(("tcp://10.6.6.6:666", [record]), use_bin_type=True)
    return [
        {"packed": evil, "worker": "tcp://10.6.6.6:666"},  # the old format: a pickle
        {"packed": packed},  # plain data, unsigned
        {"packed": packed, "sig": hmac.new(b"a guess", packed, "sha256").digest()},
        {"packed": os.urandom(64), "sig": os.urandom(32)},  # garbage
        {"records": [record], "worker": "tcp://10.6.6.6:666"},  # unsigned records
        "hello",
    ]


def test_events_not_signed_by_the_runs_workers_are_dropped_unread(
    processes: Processes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="orchestrator")
    scheduler = processes.scheduler()
    processes.worker(scheduler.address, "--nthreads", "2")
    wait_for_workers(scheduler.address, 1)
    go, marker = tmp_path / "go", tmp_path / "marker"
    with Flow("attacked") as flow:
        first = wait_for(str(go))
        second = double(first)
    outcome: dict[str, Any] = {}
    running = threading.Thread(
        target=lambda: outcome.update(
            state=flow.run(task_runner=DaskTaskRunner(address=scheduler.address))
        )
    )
    running.start()
    client_class: Any = Client  # untyped in distributed
    try:
        with client_class(scheduler.address, timeout=30) as attacker:
            topic, key = _find_run(attacker)
            for message in _forged_events(key, marker):
                attacker.log_event(topic, message)
            time.sleep(0.5)  # the orchestrator has them now
    finally:
        go.write_text("go")
        running.join(60)
    assert not running.is_alive()

    assert not marker.exists()  # nothing it sent was unpickled, anywhere
    state = outcome["state"]
    assert state.is_successful()
    assert state.result()[first].result() == 7
    assert state.result()[second].result() == 14
    warnings = [r for r in caplog.records if "not signed by this run's workers" in r.getMessage()]
    assert len(warnings) == 1
    shown = warnings[0].getMessage()
    assert re.match(rf"Dropped [1-6] events? on topic {topic} ", shown), shown
    assert "another client of the scheduler published them" in shown
