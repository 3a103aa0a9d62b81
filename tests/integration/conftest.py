"""Real Dask clusters for the integration tests: in-process, multi-process and remote.

Each fixture starts only what its tests ask for and closes it after:

- ``inproc_address``: one ``LocalCluster(processes=False)`` for the whole session;
- ``process_address``: one ``LocalCluster(processes=True)`` (two worker processes);
- ``remote_cluster``: the processes of ``docker-compose.yml`` -- ``dask scheduler`` and two
  ``python -m workers`` -- started from the compose file's own commands, host names and
  ports swapped for local ones (``compose_command``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def inproc_address() -> Iterator[str]:
    """A scheduler whose two workers live in this process (2 threads each)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def process_address() -> Iterator[str]:
    """A scheduler with two worker processes of one thread each."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


# ---- the docker-compose processes, run locally ---------------------------------------------------
def compose_services() -> dict[str, Any]:
    """The services of ``docker-compose.yml``."""
    import yaml

    with COMPOSE_FILE.open() as handle:
        services: dict[str, Any] = yaml.safe_load(handle)["services"]
    return services


def compose_command(service: str, address: str | None = None, port: int | None = None) -> list[str]:
    """A service's command as a local process runs it: ``scheduler:8786`` becomes ``address``,
    the scheduler listens on 127.0.0.1:``port`` with a random dashboard port, and the
    executables are this interpreter's (``dask`` -> ``python -m dask``)."""
    command = [str(part) for part in compose_services()[service]["command"]]
    local = []
    for position, part in enumerate(command):
        previous = command[position - 1] if position else ""
        if part == "tcp://scheduler:8786" and address is not None:
            part = address
        elif previous == "--host":
            part = "127.0.0.1"
        elif previous == "--port" and port is not None:
            part = str(port)
        elif previous == "--dashboard-address":
            part = ":0"
        local.append(part)
    executable = {"python": [sys.executable], "dask": [sys.executable, "-m", "dask"],
                  "orchestrator": [sys.executable, "-m", "orchestrator.cli"]}
    return [*executable.get(local[0], [local[0]]), *local[1:]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def worker_env() -> dict[str, str]:
    """Workers import this directory's test modules (tasks defined there pickle by reference)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")])
    return env


@dataclass
class RemoteCluster:
    """A scheduler and worker processes started from the compose commands."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path = ROOT

    def worker_pids(self) -> set[int]:
        """Process ids of the worker processes (the nannies' children run the tasks)."""
        import psutil

        pids = set()
        for worker in self.workers:
            nanny = psutil.Process(worker.pid)
            pids.add(worker.pid)
            pids.update(child.pid for child in nanny.children(recursive=True))
        return pids


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@pytest.fixture(scope="session")
def remote_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteCluster]:
    """``dask scheduler`` and two ``python -m workers`` processes, as docker-compose runs them."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("remote-cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    opened = []

    def start(service: str) -> subprocess.Popen[bytes]:
        log = (logs / f"{service}.log").open("wb")
        opened.append(log)
        return subprocess.Popen(compose_command(service, address, port), cwd=ROOT, env=worker_env(),
                                stdout=log, stderr=subprocess.STDOUT)

    scheduler = start("scheduler")
    cluster = RemoteCluster(address, scheduler, logs=logs)
    try:
        wait_for_port(port, scheduler)
        cluster.workers = [start("worker-1"), start("worker-2")]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            stop(process)
        for log in opened:
            log.close()
