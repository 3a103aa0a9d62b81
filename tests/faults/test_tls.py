"""TLS end to end: a ``tls://`` scheduler, ``python -m workers --tls-*``, a flow through it.

The certificates are made here with the ``openssl`` command (self-signed: each certificate
is its own CA). Dask checks certificates against the CA, not host names, so one certificate
serves scheduler, worker and client; a second, unrelated one plays a stranger. Whoever
lacks a certificate the scheduler's CA signed is refused, with a clear error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.runner import SchedulerUnreachableError

from .processes import Child, Processes, Scheduler, wait_for_workers

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


@dataclass(frozen=True)
class Certificate:
    cert: str
    key: str

    def worker_options(self) -> list[str]:
        return ["--tls-ca-file", self.cert, "--tls-cert", self.cert, "--tls-key", self.key]

    def security(self, *roles: str) -> Any:
        """A ``Security`` holding this certificate for the client (and ``roles``:
        ``"scheduler"``, ``"worker"``, for an embedded cluster)."""
        from distributed.security import Security as _Security

        Security: Any = _Security  # untyped in distributed

        files = {}
        for role in ("client", *roles):
            files[f"tls_{role}_cert"], files[f"tls_{role}_key"] = self.cert, self.key
        return Security(tls_ca_file=self.cert, require_encryption=True, **files)


def make_certificate(directory: Path, name: str) -> Certificate:
    """A self-signed certificate (EC P-256, one day) and its key, as PEM files."""
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return Certificate(str(cert), str(key))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Certificate, Certificate]:
    """(the cluster's certificate, a stranger's)."""
    directory = tmp_path_factory.mktemp("tls")
    return make_certificate(directory, "cluster"), make_certificate(directory, "stranger")


@dataclass
class TLSCluster:
    scheduler: Scheduler
    worker: Child
    certificate: Certificate


@pytest.fixture(scope="module")
def tls_cluster(
    module_processes: Processes, certificates: tuple[Certificate, Certificate]
) -> TLSCluster:
    """``dask scheduler --tls-...`` and one ``python -m workers tls://... --tls-...``."""
    certificate = certificates[0]
    scheduler = module_processes.scheduler(*certificate.worker_options(), scheme="tls")
    worker = module_processes.worker(
        scheduler.address, "--nthreads", "2", *certificate.worker_options()
    )
    wait_for_workers(scheduler.address, 1, security=certificate.security())
    return TLSCluster(scheduler, worker, certificate)


@task
def square(x: int) -> dict[str, int]:
    return {"value": x * x, "pid": os.getpid()}


def squares() -> tuple[Flow, Any]:
    with Flow("tls-squares") as flow:
        squared = square.map(x=[1, 2, 3])
    return flow, squared


@pytest.mark.timeout(60)
def test_a_flow_runs_on_a_tls_cluster_with_the_certificate(tls_cluster: TLSCluster) -> None:
    flow, squared = squares()
    runner = DaskTaskRunner(
        address=tls_cluster.scheduler.address, security=tls_cluster.certificate.security()
    )
    state = flow.run(task_runner=runner)
    assert state.is_successful(), state
    results = state.result()[squared].result()
    assert [r["value"] for r in results] == [1, 4, 9]
    assert {r["pid"] for r in results} <= tls_cluster.worker.descendant_pids()


@pytest.mark.timeout(30)
def test_the_worker_serves_over_tls(tls_cluster: TLSCluster) -> None:
    from distributed import Client as _Client

    Client: Any = _Client  # untyped in distributed

    with Client(
        tls_cluster.scheduler.address, security=tls_cluster.certificate.security(), timeout=20
    ) as client:
        workers = list(client.scheduler_info()["workers"])
    assert len(workers) == 1
    assert workers[0].startswith("tls://127.0.0.1:")


@pytest.mark.timeout(30)
def test_a_client_without_a_certificate_is_refused_at_once(tls_cluster: TLSCluster) -> None:
    runner = DaskTaskRunner(address=tls_cluster.scheduler.address, client_kwargs={"timeout": 5})
    with pytest.raises(SchedulerUnreachableError, match=r"a tls:// address needs TLS settings"):
        runner.start()


@pytest.mark.timeout(30)
def test_a_client_with_a_strangers_certificate_is_refused(
    tls_cluster: TLSCluster, certificates: tuple[Certificate, Certificate]
) -> None:
    stranger = certificates[1]
    runner = DaskTaskRunner(
        address=tls_cluster.scheduler.address,
        security=stranger.security(),
        client_kwargs={"timeout": 5},
    )
    with pytest.raises(SchedulerUnreachableError) as raised:
        runner.start()
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert tls_cluster.scheduler.address in str(raised.value)


@pytest.mark.timeout(30)
def test_plain_tcp_to_a_tls_scheduler_is_refused_naming_tls(tls_cluster: TLSCluster) -> None:
    address = tls_cluster.scheduler.address.replace("tls://", "tcp://")
    runner = DaskTaskRunner(address=address, client_kwargs={"timeout": 5})
    with pytest.raises(SchedulerUnreachableError, match=r"a tls:// scheduler reached with tcp://"):
        runner.start()


@pytest.mark.timeout(60)
def test_a_worker_with_a_strangers_certificate_never_joins(
    tls_cluster: TLSCluster, processes: Processes, certificates: tuple[Certificate, Certificate]
) -> None:
    from distributed import Client as _Client

    Client: Any = _Client  # untyped in distributed

    stranger = processes.worker(
        tls_cluster.scheduler.address,
        "--no-nanny",
        "--nthreads",
        "1",
        *certificates[1].worker_options(),
    )
    # it keeps trying (and failing) to connect; give it a few attempts
    deadline = time.monotonic() + 20
    while stranger.output().count("Waiting to connect") < 5 and time.monotonic() < deadline:
        assert stranger.is_alive(), stranger.output()
        time.sleep(0.1)
    assert stranger.output().count("Waiting to connect") >= 5, stranger.output()
    with Client(
        tls_cluster.scheduler.address, security=tls_cluster.certificate.security(), timeout=20
    ) as client:
        assert len(client.scheduler_info()["workers"]) == 1


@pytest.mark.timeout(10)
def test_an_embedded_cluster_without_scheduler_and_worker_certificates_is_refused(
    certificates: tuple[Certificate, Certificate],
) -> None:
    with pytest.raises(ValueError, match="has no tls_scheduler_cert, tls_worker_cert"):
        DaskTaskRunner(security=certificates[0].security())


@pytest.mark.timeout(60)
def test_the_embedded_cluster_uses_tls_when_given_security(
    certificates: tuple[Certificate, Certificate],
) -> None:
    flow, squared = squares()
    runner = DaskTaskRunner(
        cluster_kwargs={"processes": False, "n_workers": 1},
        security=certificates[0].security("scheduler", "worker"),
    )
    with runner:
        assert runner.client.scheduler.address.startswith("tls://127.0.0.1:")
        state = flow.run(task_runner=runner)
    assert [r["value"] for r in state.result()[squared].result()] == [1, 4, 9]
