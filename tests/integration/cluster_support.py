"""Helpers for the cluster fixtures: the docker-compose commands as local processes.

``compose_command(service, address, port)`` turns a service's command from
``docker-compose.yml`` into the local process the remote tests run: ``scheduler:8786``
becomes the local address, the scheduler listens on 127.0.0.1 with a random dashboard
port, and executables are this interpreter's. So the remote tests run exactly the
compose file's commands, and ``test_compose`` checks that file. Starting, tracking and
stopping the processes is ``faults.processes``' job (shared with the fault tests).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from faults.processes import ROOT, Child

__all__ = [
    "CLUSTER_SERVICES",
    "COMPOSE_FILE",
    "FLOW_SERVICE",
    "ROOT",
    "RemoteCluster",
    "compose_command",
    "compose_services",
]

COMPOSE_FILE = ROOT / "docker-compose.yml"
#: the services ``remote_cluster`` starts; the compose file's other service runs a flow
CLUSTER_SERVICES = ("scheduler", "worker-1", "worker-2")
FLOW_SERVICE = "flow"


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
            part = "127.0.0.1:0"
        local.append(part)
    executable = {
        "python": [sys.executable],
        "dask": [sys.executable, "-m", "dask"],
        "orchestrator": [sys.executable, "-m", "orchestrator.cli"],
    }
    return [*executable.get(local[0], [local[0]]), *local[1:]]


@dataclass
class RemoteCluster:
    """A scheduler and worker processes started from the compose commands."""

    address: str
    scheduler: Child
    workers: list[Child] = field(default_factory=list)

    def worker_pids(self) -> set[int]:
        """Process ids of the worker processes (the nannies' children run the tasks)."""
        return {pid for worker in self.workers for pid in worker.descendant_pids()}
