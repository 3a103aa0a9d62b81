"""Results that cannot be unpickled where they are read, and big results a user keeps.

Seen before: a task returning (or failing with) a value that unpickles only on its
worker made ``flow.run()`` itself raise, and the CLI print a traceback instead of its
summary; a downstream on another worker waited forever for an upstream Dask could not
load; and a big intermediate result was gone after the run, even with the runner held
open and the task in ``return_tasks``. Now nothing is unpickled until read: the run
returns, only reading that result raises (naming the task run), a downstream that
cannot read it fails naming it, and a result stays on the cluster while its state is
reachable on a held-open runner.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from taskrun.dask.pickled import ResultNotLoadableError

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ON_MAKER = ["dask-resource:MAKER=1"]
ON_READER = ["dask-resource:READER=1"]
NOT_HERE = r"RuntimeError: only process \d+ can load this value"


def run_of(task_name: str) -> str:
    """The start of the error reading a result of ``task_name``'s run raises."""
    return rf"Task run '{task_name}-[\w-]+': its result could not be loaded: "


class OnlyHere:
    """A value only the process that made it can unpickle (think of a class whose state
    needs that process, or a module only the workers have)."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_only_here, (self.pid,))


def _only_here(pid: int) -> OnlyHere:
    if os.getpid() != pid:
        raise RuntimeError(f"only process {pid} can load this value")
    value = OnlyHere.__new__(OnlyHere)
    value.pid = pid
    return value


class OnlyHereError(Exception):
    """An exception only the process that raised it can rebuild."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_only_here_error, (os.getpid(), str(self)))


def _only_here_error(pid: int, message: str) -> OnlyHereError:
    _only_here(pid)
    return OnlyHereError(message)


@task(tags=ON_MAKER)
def make() -> OnlyHere:
    return OnlyHere()


@task(tags=ON_MAKER)
def kind(value: Any) -> str:
    return type(value).__name__


@task(tags=ON_MAKER)
def make_two() -> list[OnlyHere]:
    return [OnlyHere(), OnlyHere()]


@task(tags=ON_MAKER)
def number() -> int:
    return 41


@task(tags=ON_MAKER)
def refuse() -> None:
    raise OnlyHereError("no table")


@task(tags=ON_READER)
def read_elsewhere(value: Any) -> str:
    return type(value).__name__


@task
def big() -> bytes:
    return b"x" * (2 << 20)


@task
def length(data: bytes) -> int:
    return len(data)


@pytest.fixture(scope="module")
def address(module_processes: Processes) -> str:
    """A scheduler, a worker offering MAKER and one offering READER (separate processes)."""
    scheduler = module_processes.scheduler()
    module_processes.worker(scheduler.address, "--nthreads", "2", "--resources", "MAKER=1")
    module_processes.worker(scheduler.address, "--nthreads", "2", "--resources", "READER=1")
    wait_for_workers(scheduler.address, 2)
    return scheduler.address


def test_a_result_or_error_this_process_cannot_unpickle_fails_only_its_reader(
    address: str,
) -> None:
    with Flow("fragile") as flow:
        made = make()
        seen = kind(made)
        plain = number()
        failing = refuse()
    state = flow.run(task_runner=DaskTaskRunner(address=address))  # returns: nothing loaded

    assert state.is_failed()  # ``refuse`` failed; the others are intact
    states = state.result()
    assert states[made].is_successful()
    assert states[seen].result() == "OnlyHere"  # its worker read it as it is
    assert states[plain].result() == 41
    with pytest.raises(ResultNotLoadableError, match=rf"{run_of('make')}{NOT_HERE}"):
        states[made].result()
    failed = states[failing]
    assert failed.is_failed()
    assert failed.message == "Task run encountered an exception."
    with pytest.raises(ResultNotLoadableError, match=rf"{run_of('refuse')}{NOT_HERE}"):
        failed.result()


def test_a_downstream_on_a_worker_that_cannot_unpickle_its_upstream_fails_naming_it(
    address: str,
) -> None:
    with Flow("fragile-elsewhere") as flow:
        made = make()
        read = read_elsewhere(made)
    started = time.monotonic()
    state = flow.run(task_runner=DaskTaskRunner(address=address))
    assert time.monotonic() - started < 60  # no wait for a dependency Dask cannot load

    assert state.result()[made].is_successful()
    failed = state.result()[read]
    assert failed.is_failed()
    message = failed.message or ""
    assert message.startswith("Task run 'read_elsewhere-"), message
    assert "could not load the result of its upstream task run 'make-" in message
    assert "RuntimeError: only process" in message
    assert "Traceback" not in message


def test_the_cli_prints_its_summary_when_results_cannot_be_unpickled(
    address: str, module_processes: Processes, tmp_path: Path
) -> None:
    flow_file = tmp_path / "fragile_flow.py"
    flow_file.write_text(
        "from orchestrator import Flow\n"
        "from faults.test_results_loading import kind, make, refuse\n\n"
        "with Flow('fragile-cli') as flow:\n"
        "    kind(make())\n"
        "    refuse()\n"
    )
    done = module_processes.run_cli("run", str(flow_file), "--address", address, timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # the flow failed (``refuse``), and said so
    table = done.stdout[done.stdout.index("Task ") :]
    assert "make " in table
    assert "refuse " in table
    assert "OnlyHereError: no table" in table  # the error's text, without unpickling it
    assert "finished in state Failed" in done.stdout
    assert "ResultNotLoadableError" not in output  # the CLI never tried to load anything


def _tasks_on_scheduler(dask_scheduler: Any) -> list[str]:
    return [str(key) for key in dask_scheduler.tasks]


def _settled_big_keys(observer: Any, expected: int, within: float = 10.0) -> list[str]:
    """The scheduler's keys once the ``big-`` ones number ``expected`` (releases travel to
    the scheduler in batches, so give them a moment), or as they are when ``within`` ends."""
    deadline = time.monotonic() + within
    while True:
        keys: list[str] = observer.run_on_scheduler(_tasks_on_scheduler)
        if sum(k.startswith("big-") for k in keys) == expected or time.monotonic() > deadline:
            return keys
        time.sleep(0.1)


def test_mapping_over_a_small_result_cuts_it_where_it_lives_never_unpickling_it_here(
    address: str,
) -> None:
    """The list comes back inline (small), but its children's elements are cut on the worker
    that holds it: had this process unpickled it to slice it, it could not (OnlyHere), and
    each child would have received the whole list instead of its element."""
    with Flow("map-over-inline") as flow:
        kinds = kind.map(value=make_two())
    state = flow.run(task_runner=DaskTaskRunner(address=address))
    assert state.is_successful(), state
    assert state.result()[kinds].result() == ["OnlyHere", "OnlyHere"]


def test_a_big_intermediate_result_stays_fetchable_while_its_state_is_kept(address: str) -> None:
    with Flow("big-intermediate") as flow:
        data = big()
        count = length(data)
        other = big()
        length(other)
    client_class: Any = Client  # untyped in distributed
    with (
        client_class(address, timeout=30) as observer,
        DaskTaskRunner(address=address, inline_result_bytes=1 << 20) as runner,
    ):
        state = flow.run(task_runner=runner, return_tasks=[data, count])
        kept = state.result()[data]
        key = kept._result.key  # the Dask key its result stays under
        gc.collect()  # the run's other states are gone: so is ``other``'s result
        on_scheduler = _settled_big_keys(observer, expected=1)
        assert key in on_scheduler
        assert sum(k.startswith("big-") for k in on_scheduler) == 1
        assert state.result()[count].result() == 2 << 20
        assert kept.result() == b"x" * (2 << 20)  # consumed downstream, still fetchable

        del kept, state
        gc.collect()
        deadline = time.monotonic() + 20
        while key in observer.run_on_scheduler(_tasks_on_scheduler):
            assert time.monotonic() < deadline, f"{key} stayed on the cluster"
            time.sleep(0.1)
