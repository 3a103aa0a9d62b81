"""Real Dask clusters for the integration tests: in-process, multi-process and remote.

Each fixture starts only what its tests ask for and closes it after:

- ``inproc_address`` (in ``tests/conftest.py``, shared with the contract suite): one
  ``LocalCluster(processes=False)`` for the whole session;
- ``process_address``: one ``LocalCluster(processes=True)`` (two worker processes);
- ``remote_cluster``: the processes of ``docker-compose.yml`` -- ``dask scheduler`` and two
  ``python -m workers`` -- started from the compose file's own commands, host names and
  ports swapped for local ones (``cluster_support.compose_command``), run and cleaned up
  by ``faults.processes.Processes``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faults.processes import Processes, free_port, wait_for_port, wait_for_workers

from .cluster_support import CLUSTER_SERVICES, RemoteCluster, compose_command


@pytest.fixture(scope="session")
def process_address() -> Iterator[str]:
    """A scheduler with two worker processes of one thread each; no dashboard (no test
    reads it)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def remote_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteCluster]:
    """``dask scheduler`` and two ``python -m workers`` processes, as docker-compose runs them."""
    processes = Processes(tmp_path_factory.mktemp("remote-cluster"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    first, *others = CLUSTER_SERVICES
    try:
        scheduler = processes.start(first, compose_command(first, address, port))
        wait_for_port(port, scheduler.process)
        cluster = RemoteCluster(address, scheduler)
        cluster.workers = [
            processes.start(service, compose_command(service, address, port)) for service in others
        ]
        wait_for_workers(address, 2)
        yield cluster
    finally:
        processes.stop_all(grace=15)
