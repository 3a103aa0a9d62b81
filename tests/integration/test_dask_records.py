"""The orchestrator's side of the summaries: records that arrive in a sealed worker
event (tuples) or as lists are named and applied."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from distributed import Client

from orchestrator.task_runners.dask.batching import DurationEstimates
from orchestrator.task_runners.dask.handles import DaskHandle, Submitted
from orchestrator.task_runners.dask.session import DaskSession
from taskrun.dask import entry as dask_entry
from taskrun.dask import record_states
from taskrun.dask import records as summary
from taskrun.dask.sealing import seal
from taskrun.states import Success

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def session(inproc_address: str) -> Iterator[DaskSession]:
    with Client(inproc_address) as client:
        session = DaskSession(client, "records-test", DurationEstimates())
        yield session
        session.close()


def batch_of(session: DaskSession, size: int) -> tuple[Submitted, list[DaskHandle]]:
    handles = [DaskHandle(f"task-00000000-{j}", position=j) for j in range(size)]
    submitted = Submitted("batch-key", dask_entry.run_batch, (), ())
    submitted.handles = handles
    for handle in handles:
        handle.submitted = submitted
    session.register(submitted)
    return submitted, handles


def test_records_arriving_as_tuples_or_lists_update_their_handles(session: DaskSession) -> None:
    submitted, handles = batch_of(session, 3)
    _, final = summary.summarize("batch-key", 0, handles[0].name, Success("ok", 7), 1024, 0.1)
    retrying = summary.retrying("batch-key", 1, "again soon", 1.0, 2)
    secret = session.channel.secret
    session.on_event((0.0, seal(secret, "tcp://w:1", [final, retrying])))
    running = list(summary.running("batch-key", 2))  # a list, as msgpack may give it
    session.on_event((0.0, seal(secret, "tcp://w:1", [running])))

    assert type(handles[0].record) is tuple  # stored plain: the GC stops tracking it
    assert session.get_state(handles[0]).result() == 7
    assert submitted.worker == "tcp://w:1"
    live = handles[1].live
    assert (live.name, live.run_count, live.message) == ("Retrying", 2, "again soon")
    assert handles[2].live.is_running()
    assert submitted.unfinished == 2


def test_threads_asking_at_once_all_get_the_one_state_built_from_the_summary(
    session: DaskSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow run, its watcher and a future's reader may ask for a state as its summary
    arrives: one of them builds it (slowly here, to widen the window), the rest get that one
    (they used to build their own, or find the summary gone and fail an assertion)."""
    _, handles = batch_of(session, 1)
    _, final = summary.summarize("batch-key", 0, handles[0].name, Success("ok", 7), 1024, 0.1)
    session.on_event((0.0, seal(session.channel.secret, "tcp://w:1", [final])))
    build = record_states.state_from_record

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return build(*args, **kwargs)

    monkeypatch.setattr(record_states, "state_from_record", slow_build)
    start = threading.Barrier(8)

    def read() -> Any:
        start.wait()
        return session.get_state(handles[0])

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda _: read(), range(8)))
    assert all(state is states[0] for state in states)
    assert states[0].result() == 7
