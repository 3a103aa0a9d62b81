"""docker-compose.yml runs what the remote tests run (no Docker engine needed to check it).

The remote tests start ``dask scheduler`` and the workers from this file's commands
(``compose_command``); these tests pin the file's shape: a scheduler, two workers
started with ``python -m workers tcp://scheduler:8786``, a flow service running the
map-reduce example against the scheduler, one shared image built by the Dockerfile.
"""

from __future__ import annotations

import sys

import pytest

from .cluster_support import CLUSTER_SERVICES, FLOW_SERVICE, ROOT, compose_command, compose_services

pytestmark = pytest.mark.integration


def test_the_compose_file_has_a_scheduler_two_workers_and_a_flow_service() -> None:
    assert set(compose_services()) == {*CLUSTER_SERVICES, FLOW_SERVICE}


def test_the_scheduler_service_runs_dask_scheduler_on_port_8786() -> None:
    services = compose_services()
    assert services["scheduler"]["command"][:2] == ["dask", "scheduler"]
    assert "8786:8786" in services["scheduler"]["ports"]
    local = compose_command("scheduler", port=9999)
    assert local[:4] == [sys.executable, "-m", "dask", "scheduler"]
    assert local[local.index("--host") + 1] == "127.0.0.1"
    assert local[local.index("--port") + 1] == "9999"


@pytest.mark.parametrize("service", ["worker-1", "worker-2"])
def test_worker_services_run_python_m_workers_against_the_scheduler(service: str) -> None:
    command = compose_services()[service]["command"]
    assert command[:4] == ["python", "-m", "workers", "tcp://scheduler:8786"]
    assert command[command.index("--name") + 1] == service
    assert compose_command(service, "tcp://127.0.0.1:1234")[:4] == [
        sys.executable,
        "-m",
        "workers",
        "tcp://127.0.0.1:1234",
    ]
    assert "scheduler" in compose_services()[service]["depends_on"]
    # the scheduler container connects back to the workers over the compose network
    assert command[command.index("--host") + 1] == "0.0.0.0"
    local = compose_command(service, "tcp://127.0.0.1:1234")
    assert local[local.index("--host") + 1] == "127.0.0.1"


def test_the_flow_service_runs_the_map_reduce_example_against_the_scheduler() -> None:
    command = compose_services()[FLOW_SERVICE]["command"]
    assert command[:3] == ["orchestrator", "run", "examples/mapreduce.py"]
    assert command[command.index("--address") + 1] == "tcp://scheduler:8786"
    assert (ROOT / "examples" / "mapreduce.py").exists()
    assert compose_command(FLOW_SERVICE, "tcp://127.0.0.1:1234")[:3] == [
        sys.executable,
        "-m",
        "orchestrator.cli",
    ]


def test_every_service_uses_the_one_image_the_dockerfile_builds() -> None:
    services = compose_services()
    assert services["scheduler"]["build"] == "."
    images = {service.get("image") for service in services.values()}
    assert images == {"orchestrator:latest"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install ." in dockerfile
    assert "COPY workers" in dockerfile
    assert "COPY orchestrator" in dockerfile
    assert "COPY examples" in dockerfile
