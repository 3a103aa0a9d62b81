"""Helpers for the cluster fixtures: the docker-compose commands as local processes.

``compose_command(service, address, port)`` turns a service's command from
``docker-compose.yml`` into the local process the remote tests run: ``scheduler:8786``
becomes the local address, the scheduler listens on 127.0.0.1 with a random dashboard
port, and executables are this interpreter's. So the remote tests run exactly the
compose file's commands, and ``test_compose`` checks that file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
HERE = Path(__file__).resolve().parent
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
            part = ":0"
        local.append(part)
    executable = {
        "python": [sys.executable],
        "dask": [sys.executable, "-m", "dask"],
        "orchestrator": [sys.executable, "-m", "orchestrator.cli"],
    }
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
    """The environment of cluster processes: they import the test package ``integration``
    (functions such as ``run_on_scheduler`` callbacks travel by reference)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(ROOT), env.get("PYTHONPATH", "")])
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
