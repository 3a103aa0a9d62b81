"""Child processes for fault tests: schedulers, workers and the CLI, tracked by PID.

``Processes`` starts every child in its own process group (a nanny's worker process joins
its group), logs each to a file, and ``stop_all()`` kills every group it started, so a
test that fails halfway leaves no stray process. Fault tests kill one child by PID
(``kill(child)``: SIGKILL by default, the nanny's worker process survives it, as in a
real crash) and restart a scheduler on its old port (``restart(scheduler)``).

    processes = Processes(tmp_path)
    scheduler = processes.scheduler()                 # dask scheduler on 127.0.0.1:<free>
    worker = processes.worker(scheduler.address, "--nthreads", "1")
    wait_for_workers(scheduler.address, 1)
    processes.kill(worker)
    processes.stop_all()                              # fixtures do this in a finalizer

A scheduler starts with ``--port 0``: the port it bound is read from its
``--scheduler-file``, so parallel tests never race for a port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"

__all__ = [
    "ROOT",
    "Child",
    "Processes",
    "Scheduler",
    "free_port",
    "stop",
    "wait_for_port",
    "wait_for_workers",
    "worker_env",
]


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of cluster processes: they import the test packages (``integration``,
    ``faults``: functions such as ``run_on_scheduler`` callbacks travel by reference)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra or {})
    return env


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for commands that need a port up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Return once something accepts on 127.0.0.1:``port``; fail if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def wait_for_workers(
    address: str, count: int, timeout: float = 60, security: object | None = None
) -> None:
    """Return once ``count`` workers are connected to the scheduler at ``address``."""
    from distributed import Client

    client_class: Any = Client  # untyped in distributed
    with client_class(address, timeout=timeout, security=security) as client:
        client.wait_for_workers(count, timeout=timeout)


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@dataclass
class Child:
    """One started process: its command, its Popen and the file its output goes to."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr together)."""
        return self.log.read_text(errors="replace")

    def descendant_pids(self) -> set[int]:
        """PIDs of the process and its children (a nanny's worker process, say)."""
        import psutil  # type: ignore[import-untyped]  # no stubs installed

        try:
            parent = psutil.Process(self.pid)
            return {self.pid, *(child.pid for child in parent.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()


@dataclass
class Scheduler(Child):
    """A ``dask scheduler`` child and where it listens."""

    address: str = ""
    port: int = 0
    extra: tuple[str, ...] = ()


class Processes:
    """Starts child processes, remembers them, and kills them all in ``stop_all()``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.children: list[Child] = []
        self._logs: list[IO[bytes]] = []

    # ---- starting ----------------------------------------------------------------------------
    def start(
        self,
        name: str,
        command: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> Child:
        """Start ``command`` in its own process group, output to ``<directory>/<name>.log``."""
        log_path = self.directory / f"{name}-{len(self.children)}.log"
        log = log_path.open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env if env is not None else worker_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop_all kills the nanny's children too
        )
        child = Child(name, list(command), process, log_path)
        self.children.append(child)
        return child

    def scheduler(
        self, *extra: str, port: int = 0, timeout: float = 30, scheme: str = "tcp"
    ) -> Scheduler:
        """``dask scheduler`` on 127.0.0.1 (``port`` 0: any free one), running once it returns.

        ``extra`` goes to the command line as is (``--tls-ca-file ...``); ``scheme`` is
        the address's (``tls`` with TLS options).
        """
        file = self.directory / f"scheduler-{len(self.children)}.json"
        file.unlink(missing_ok=True)  # a stale file would name a gone scheduler
        command = [
            *_dask("scheduler"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            "127.0.0.1:0",
            "--scheduler-file",
            str(file),
            *extra,
        ]
        child = self.start("scheduler", command)
        address = _read_scheduler_file(file, child, timeout)
        bound = int(address.rpartition(":")[2])
        scheduler = Scheduler(
            child.name, child.command, child.process, child.log, address, bound, tuple(extra)
        )
        self.children[-1] = scheduler
        if not address.startswith(f"{scheme}://"):
            raise RuntimeError(f"the scheduler listens on {address}, not {scheme}://")
        return scheduler

    def worker(self, address: str, *options: str, env: dict[str, str] | None = None) -> Child:
        """``python -m workers ADDRESS OPTIONS...`` (add ``--no-nanny`` for a bare worker)."""
        return self.start("worker", [sys.executable, "-m", "workers", address, *options], env)

    def cli(self, *arguments: str, env: dict[str, str] | None = None) -> Child:
        """``orchestrator ARGUMENTS...`` as a child process (``run_cli`` waits for it)."""
        return self.start("cli", [sys.executable, "-m", "orchestrator.cli", *arguments], env)

    def run_cli(
        self, *arguments: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``orchestrator ARGUMENTS...`` to its end; stdout and stderr kept apart."""
        return subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", *arguments],
            cwd=ROOT,
            env=env if env is not None else worker_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # ---- faults ------------------------------------------------------------------------------
    def kill(self, child: Child, sig: signal.Signals = signal.SIGKILL, wait: float = 15) -> None:
        """Send ``sig`` to the child's PID only (its own children live on) and reap it."""
        if child.is_alive():
            os.kill(child.pid, sig)
            child.process.wait(wait)

    def restart(self, scheduler: Scheduler, timeout: float = 30) -> Scheduler:
        """Kill ``scheduler`` (if alive) and start a new one on the same port."""
        self.kill(scheduler)
        scheme = scheduler.address.partition("://")[0]
        return self.scheduler(*scheduler.extra, port=scheduler.port, timeout=timeout, scheme=scheme)

    # ---- cleaning up -------------------------------------------------------------------------
    def stop_all(self, grace: float = 0.0) -> None:
        """Kill every process group started here, reap the children, close the logs.

        With ``grace`` seconds, SIGTERM first (workers leave the scheduler cleanly), and
        SIGKILL whatever still runs after that.
        """
        if grace > 0:
            for child in reversed(self.children):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for child in self.children:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(max(0.0, deadline - time.monotonic()))
        for child in reversed(self.children):
            with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
                os.killpg(child.pid, signal.SIGKILL)
        for child in self.children:
            try:
                child.process.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered
                child.process.kill()
        for log in self._logs:
            log.close()
        self.children.clear()
        self._logs.clear()


def _dask(command: str) -> list[str]:
    return [sys.executable, "-m", "dask", command]


def _read_scheduler_file(file: Path, child: Child, timeout: float) -> str:
    """The address a scheduler wrote to its ``--scheduler-file`` once listening."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.is_alive():
            raise RuntimeError(
                f"the scheduler exited with {child.process.returncode}:\n{child.output()}"
            )
        try:
            return str(json.loads(file.read_text())["address"])
        except (FileNotFoundError, ValueError, KeyError):  # not written (completely) yet
            time.sleep(0.05)
    raise TimeoutError(f"the scheduler wrote no {file} in {timeout} s:\n{child.output()}")
