"""Bytes that Dask delivers to the Dask clients of this process (the orchestrator's side).

Method: while ``ReceivedBytes`` is armed, every message a Dask comm reads in this
process is counted *at the comm layer*, before it is deserialized:

- TCP comms (``processes=True``): the size of the frames handed to
  ``distributed.comm.utils.from_frames``, i.e. exactly what came off the socket for that
  message (after Dask's own compression, which is why the blocks are random bytes).
- in-process comms (``processes=False``): nothing is serialized, so the count is
  ``dask.sizeof`` of the message objects: what the client would have had to receive.

A message is the client's when its comm belongs to a ``distributed.Client`` in this
process: the client's scheduler stream or a comm its connection pool created (gathers,
direct worker reads). Everything else that arrives over TCP here is the in-process
scheduler's (task-finished reports, heartbeats), reported separately as ``other``.
Unlike network counters on loopback, this sees only this process's side, is not
confused by worker-to-worker traffic, and is exact per message.
"""

from __future__ import annotations

import contextvars
import importlib
import threading
from types import TracebackType
from typing import Any

_reading: contextvars.ContextVar[Any] = contextvars.ContextVar("_reading", default=None)


class ReceivedBytes:
    """Patches Dask's comm reads once (``install``); counts while a ``with`` block is open."""

    _installed = False
    _active: ReceivedBytes | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.client = 0
        self.other = 0

    @classmethod
    def install(cls) -> None:
        """Wrap the comm reads; call before clusters and clients start."""
        if cls._installed:
            return
        # Any: distributed is untyped, and these are private names we wrap on purpose
        tcp: Any = importlib.import_module("distributed.comm.tcp")
        inproc: Any = importlib.import_module("distributed.comm.inproc")
        nbytes: Any = importlib.import_module("distributed.utils").nbytes

        tcp_read, from_frames, inproc_read = tcp.TCP.read, tcp.from_frames, inproc.InProc.read

        async def counting_tcp_read(comm: Any, deserializers: Any = None) -> Any:
            token = _reading.set(comm)
            try:
                return await tcp_read(comm, deserializers)
            finally:
                _reading.reset(token)

        async def counting_from_frames(frames: Any, *args: Any, **kwargs: Any) -> Any:
            if cls._active is not None:
                cls._active.add(_reading.get(), sum(nbytes(f) for f in frames))
            return await from_frames(frames, *args, **kwargs)

        async def counting_inproc_read(comm: Any, deserializers: Any = "ignored") -> Any:
            message = await inproc_read(comm, deserializers)
            if cls._active is not None and _is_client_comm(comm):
                from dask.sizeof import sizeof

                cls._active.add(comm, int(sizeof(message)))
            return message

        tcp.TCP.read = counting_tcp_read
        tcp.from_frames = counting_from_frames
        inproc.InProc.read = counting_inproc_read
        cls._installed = True

    def add(self, comm: Any, size: int) -> None:
        with self._lock:
            if comm is not None and _is_client_comm(comm):
                self.client += size
            else:
                self.other += size

    def __enter__(self) -> ReceivedBytes:
        if not self._installed:
            raise RuntimeError("ReceivedBytes.install() must run before clusters start")
        type(self)._active = self
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        type(self)._active = None


def _is_client_comm(comm: Any) -> bool:
    from distributed import Client

    for client in list(Client._instances):
        stream = getattr(client, "scheduler_comm", None)
        if stream is not None and getattr(stream, "comm", None) is comm:
            return True
        pool = getattr(client, "rpc", None)
        if pool is not None and comm in getattr(pool, "_created", ()):
            return True
    return False
