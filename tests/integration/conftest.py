"""Real Dask clusters for the integration tests: in-process, multi-process and remote.

Each fixture starts only what its tests ask for and closes it after:

- ``inproc_address`` (in ``tests/conftest.py``, shared with the contract suite): one
  ``LocalCluster(processes=False)`` for the whole session;
- ``process_address``: one ``LocalCluster(processes=True)`` (two worker processes);
- ``remote_cluster``: the processes of ``docker-compose.yml`` -- ``dask scheduler`` and two
  ``python -m workers`` -- started from the compose file's own commands, host names and
  ports swapped for local ones (``cluster_support.compose_command``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from .cluster_support import (
    CLUSTER_SERVICES,
    ROOT,
    RemoteCluster,
    compose_command,
    free_port,
    stop,
    wait_for_port,
    worker_env,
)


@pytest.fixture(scope="session")
def process_address() -> Iterator[str]:
    """A scheduler with two worker processes of one thread each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


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
        return subprocess.Popen(
            compose_command(service, address, port),
            cwd=ROOT,
            env=worker_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    first, *others = CLUSTER_SERVICES
    scheduler = start(first)
    cluster = RemoteCluster(address, scheduler, logs=logs)
    try:
        wait_for_port(port, scheduler)
        cluster.workers = [start(service) for service in others]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            stop(process)
        for log in opened:
            log.close()
