"""Connecting to the wrong peer fails fast and clearly, from Python and from the CLI.

Each peer is a tiny server on 127.0.0.1 started by the test: one that accepts and never
speaks (``distributed.Client(timeout=3)`` alone hangs on it for minutes), one that answers
like a web server (``MemoryError`` from frame decoding), one that sends random bytes
(``OverflowError``), and a port where nothing listens. Malformed addresses are refused when
the runner is built, before any connection. Every failure is a ``SchedulerUnreachableError``
naming the address and the expected form, within the timeout, and leaves no thread behind.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.runner import SchedulerAddressError, SchedulerUnreachableError

from .processes import Processes, free_port

pytestmark = pytest.mark.integration

TIMEOUT = 2.0
#: what a slow, shared machine may add to the timeout
SLACK = 2.0


def stay_silent(connection: socket.socket) -> None:
    """Accept, then say nothing (the connection stays open until the peer closes)."""


def answer_like_a_web_server(connection: socket.socket) -> None:
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def send_random_bytes(connection: socket.socket) -> None:
    connection.sendall(random.Random(7).randbytes(4096))


class Peer:
    """A TCP server on 127.0.0.1 that treats every connection with ``reply``."""

    def __init__(self, reply: Callable[[socket.socket], None]) -> None:
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = int(self.listener.getsockname()[1])
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.accepted = 0
        self._connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"peer-{self.port}")
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._connections.append(connection)
            with contextlib.suppress(OSError):  # the client hung up first
                self.reply(connection)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        for connection in [*self._connections, self.listener]:
            connection.close()


@pytest.fixture
def peer_factory() -> Iterator[Callable[[Callable[[socket.socket], None]], Peer]]:
    peers: list[Peer] = []

    def start(reply: Callable[[socket.socket], None]) -> Peer:
        peers.append(Peer(reply))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()


PEERS = {
    "silent": (stay_silent, "sent no Dask handshake"),
    "http": (answer_like_a_web_server, "not Dask's protocol"),
    "random-bytes": (send_random_bytes, "not Dask's protocol"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", list(PEERS))
def test_a_peer_that_is_not_a_dask_scheduler_fails_within_the_timeout_naming_it(
    peer_factory: Callable[[Callable[[socket.socket], None]], Peer], kind: str
) -> None:
    reply, problem = PEERS[kind]
    peer = peer_factory(reply)
    runner = DaskTaskRunner(address=peer.address, client_kwargs={"timeout": TIMEOUT})
    threads = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachableError) as raised:
        runner.start()
    assert time.monotonic() - started < TIMEOUT + SLACK
    message = str(raised.value)
    assert f"at '{peer.address}' within 2 seconds" in message
    assert problem in message
    assert "tcp://HOST:PORT" in message
    assert "tls://HOST:PORT" in message
    assert peer.accepted >= 1
    assert set(threading.enumerate()) - threads == set(), "a failed attempt left a thread"
    runner.shutdown()  # not started: nothing to do, and no error


@pytest.mark.timeout(30)
def test_a_port_where_nothing_listens_is_retried_until_the_timeout_then_named() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    threads = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachableError, match="Connection refused") as raised:
        DaskTaskRunner(address=address, client_kwargs={"timeout": 1}).start()
    assert 1 <= time.monotonic() - started < 1 + SLACK
    assert f"'{address}' within 1 seconds" in str(raised.value)
    assert set(threading.enumerate()) - threads == set()


BAD_ADDRESSES = {
    "127.0.0.1": "it has no port",
    "garbage": "it has no port",
    "tcp://127.0.0.1": "it has no port",
    "http://127.0.0.1:8787": "http:// is a web address",
    "https://scheduler:8786": "https:// is a web address",
    "ftp://scheduler:8786": "ftp:// is not a Dask protocol",
    "tcp://127.0.0.1:0": "outside 1-65535",
    "tcp://127.0.0.1:99999": "outside 1-65535",
    "tcp://127.0.0.1:port": "is not a number",
    "tcp://::1:8786": "needs brackets",
    "tcp://[::1:8786": "no closing ']'",
    "tcp://scheduler:8786/status": "a path after HOST:PORT",
    "tcp://sched uler:8786": "not a host name",
    " tcp://127.0.0.1:8786": "spaces around it",
    "": "it is empty",
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("address", "problem"), BAD_ADDRESSES.items(), ids=list(BAD_ADDRESSES))
def test_a_malformed_address_is_refused_when_the_runner_is_built(
    address: str, problem: str
) -> None:
    with pytest.raises(SchedulerAddressError) as raised:
        DaskTaskRunner(address=address)
    message = str(raised.value)
    assert message.startswith(f"{address!r} is not a Dask scheduler address: ")
    assert problem in message
    assert "tcp://HOST:PORT" in message
    assert isinstance(raised.value, SchedulerUnreachableError | ValueError)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "address",
    ["tcp://127.0.0.1:8786", "tls://[::1]:8786", "scheduler:8786", "ws://dask-1.local:80"],
)
def test_well_formed_addresses_are_accepted_without_connecting(address: str) -> None:
    assert DaskTaskRunner(address=address).address == address


@pytest.mark.timeout(10)
def test_a_malformed_address_makes_no_connection_attempt(
    peer_factory: Callable[[Callable[[socket.socket], None]], Peer],
) -> None:
    peer = peer_factory(stay_silent)
    with pytest.raises(SchedulerAddressError):
        DaskTaskRunner(address=f"http://127.0.0.1:{peer.port}")
    time.sleep(0.2)  # give a (wrong) connection attempt time to arrive
    assert peer.accepted == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["malformed", "silent", "http"])
def test_the_cli_exits_2_with_one_line_naming_the_address(
    processes: Processes,
    peer_factory: Callable[[Callable[[socket.socket], None]], Peer],
    kind: str,
) -> None:
    if kind == "malformed":
        address = "127.0.0.1"
    else:
        address = peer_factory(
            stay_silent if kind == "silent" else answer_like_a_web_server
        ).address
    started = time.monotonic()
    done = processes.run_cli(
        "run", "examples/mapreduce.py", "--address", address, "--connect-timeout", "2", "-q"
    )
    elapsed = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"orchestrator: error: {address!r} is not") or lines[0].startswith(
        f"orchestrator: error: Could not connect to a Dask scheduler at {address!r} within 2"
    )
    assert "tcp://HOST:PORT" in lines[0]
    assert elapsed < 30  # start-up of the interpreter included; the attempt itself is 2 s


@pytest.mark.timeout(10)
def test_the_cli_refuses_a_connect_timeout_that_is_not_positive(processes: Processes) -> None:
    done = processes.run_cli(
        "run", "examples/mapreduce.py", "--address", "tcp://127.0.0.1:1", "--connect-timeout", "0"
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestrator: error: --connect-timeout needs a positive number of seconds, got 0"
    ]
