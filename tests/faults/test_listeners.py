"""What listens where: the embedded cluster and ``python -m workers`` stay on 127.0.0.1.

Whoever reaches a scheduler or worker port can run code on the workers, so nothing may
listen on every interface unless asked to. The tests read the listening sockets of the
actual processes (``psutil``), not the addresses the processes report.
"""

from __future__ import annotations

import os
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed
import pytest

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner

from .processes import Child, Processes, free_port, wait_for_workers

pytestmark = pytest.mark.integration


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(ip, port) of every listening TCP socket of the processes ``pids``."""
    found = set()
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections("inet")
        except psutil.NoSuchProcess:
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == "LISTEN"}
    return found


def this_process_tree() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(child.pid for child in me.children(recursive=True))}


@task
def where() -> int:
    return os.getpid()


@pytest.mark.timeout(60)
def test_the_embedded_cluster_listens_on_127_0_0_1_only() -> None:
    before = listening(this_process_tree())
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1})
    with runner:
        opened = listening(this_process_tree()) - before
        info = runner.client.scheduler_info()
        dashboard = runner.client.dashboard_link
        with Flow("where") as flow:
            where()
        assert flow.run(task_runner=runner).is_successful()
    # scheduler, dashboard, nanny and worker (at least; no more than a few)
    assert len(opened) >= 4, opened
    assert {ip for ip, _ in opened} == {"127.0.0.1"}, opened
    assert info["address"].startswith("tcp://127.0.0.1:")
    assert all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
    assert dashboard.startswith("http://127.0.0.1:")


@pytest.mark.timeout(60)
def test_cluster_kwargs_still_choose_the_dashboard_address() -> None:
    port = free_port()
    runner = DaskTaskRunner(
        cluster_kwargs={
            "processes": False,
            "n_workers": 1,
            "dashboard_address": f"127.0.0.1:{port}",
        }
    )
    with runner:
        assert ("127.0.0.1", port) in listening({os.getpid()})
        assert f":{port}/" in runner.client.dashboard_link


def worker_addresses(scheduler_address: str) -> dict[str, Any]:
    from distributed import Client as _Client

    Client: Any = _Client  # untyped in distributed

    with Client(scheduler_address, timeout=30) as client:
        return dict(client.scheduler_info()["workers"])


def assert_listens_on_loopback_only(child: Child, at_least: int) -> None:
    sockets = listening(child.descendant_pids())
    assert len(sockets) >= at_least, (sockets, child.output())
    assert {ip for ip, _ in sockets} == {"127.0.0.1"}, (sockets, child.output())


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("options", "sockets"),
    [
        ((), 2),  # nanny, worker
        (("--no-nanny",), 1),
        (("--no-nanny", "--dashboard-address", ":0"), 2),  # worker, its dashboard
        (("--host", "127.0.0.1"), 2),
    ],
    ids=["nanny", "no-nanny", "dashboard", "explicit-host"],
)
def test_python_m_workers_listens_on_the_interface_that_reaches_the_scheduler(
    processes: Processes, options: tuple[str, ...], sockets: int
) -> None:
    scheduler = processes.scheduler()
    worker = processes.worker(scheduler.address, "--nthreads", "1", *options)
    wait_for_workers(scheduler.address, 1)
    assert_listens_on_loopback_only(worker, at_least=sockets)
    (address,) = worker_addresses(scheduler.address)
    assert address.startswith("tcp://127.0.0.1:")


@pytest.mark.timeout(60)
def test_nworkers_starts_named_workers_each_on_127_0_0_1(processes: Processes) -> None:
    scheduler = processes.scheduler()
    worker = processes.worker(
        scheduler.address, "--nworkers", "2", "--nthreads", "1", "--name", "pool"
    )
    wait_for_workers(scheduler.address, 2)
    assert_listens_on_loopback_only(worker, at_least=4)
    workers = worker_addresses(scheduler.address)
    assert sorted(info["name"] for info in workers.values()) == ["pool-0", "pool-1"]
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)


@pytest.mark.timeout(60)
def test_listen_address_fixes_the_workers_port(processes: Processes) -> None:
    scheduler = processes.scheduler()
    port = free_port()
    worker = processes.worker(
        scheduler.address, "--nthreads", "1", "--listen-address", f"tcp://127.0.0.1:{port}"
    )
    wait_for_workers(scheduler.address, 1)
    assert ("127.0.0.1", port) in listening(worker.descendant_pids())
    assert list(worker_addresses(scheduler.address)) == [f"tcp://127.0.0.1:{port}"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["127.0.0.1"], "is not a Dask scheduler address: it has no port"),
        (["http://127.0.0.1:8787"], "http:// is a web address"),
        (["tcp://127.0.0.1:8786", "--nworkers", "2", "--no-nanny"], "needs nannies"),
        (["tcp://127.0.0.1:8786", "--nworkers", "0"], "at least 1 worker"),
        (["tcp://127.0.0.1:8786", "--host", "a", "--listen-address", "tcp://a:1"], "not allowed"),
        (["tcp://127.0.0.1:8786", "--tls-ca-file", "ca.pem"], "need a tls:// scheduler"),
        (["tls://127.0.0.1:8786"], "needs --tls-ca-file, --tls-cert and --tls-key"),
    ],
    ids=["no-port", "http", "nworkers-no-nanny", "no-workers", "host-and-listen", "tls-tcp", "tls"],
)
def test_python_m_workers_refuses_a_wrong_command_line_with_status_2(
    processes: Processes, arguments: list[str], message: str
) -> None:
    child = processes.worker(*arguments)
    assert child.process.wait(20) == 2
    assert message in child.output()
    assert "Traceback" not in child.output()
