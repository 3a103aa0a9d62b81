"""Containers: many results in one local file, each addressed as ``file#offset:length``.

Creating a file costs this VM's local disk 35 µs to 1 ms (the journal, the directory
entry, the inode), more than a trivial task run costs in all. A checkpoint that has no
target of its own therefore does not get a file of its own: it is appended to a
container, one per writing thread and directory, and its location names the byte range::

    file:///data/results/etl/load/4711-7f3a-9c2e01d4.results#1024:57

An append is one ``write`` on a file already open (a few µs). What is appended is
exactly what the result's serializer wrote, so reading a range back is reading a file.

Durability is the same as for a file per result: the bytes are in the operating system
when ``append`` returns (a reader in another process sees them; nothing is fsync'ed).
A failed or short write raises, and the run that asked fails with the location: a
location is handed out only for bytes that were written whole. Bytes of a write that
failed halfway stay in the container unreferenced; the next append goes after them.

A container deleted while open (its directory removed between two runs) is noticed at
the first append of the next flow run, which starts a new one: bytes never go to a file
nobody can read. The check (an ``fstat``) runs once per flow run and container, not per
append: on a busy Dask worker every system call waits for the GIL on its way back.

Each thread writes its own containers (no locks, no interleaving); a container's name
holds the process id, the thread and a random part, so no two writers share one, and a
forked child opens its own. At most ``_OPEN_PER_THREAD`` containers stay open per thread;
older ones are closed (a later append in that directory starts a new container).
Object stores cannot append: results stored there keep one object each
(``taskrun.persistence``).
"""

from __future__ import annotations

import os
import random
import re
import threading
from dataclasses import dataclass

from taskrun.context import current

#: the name ending of a container of results, and of a container of cache index records
RESULTS, INDEX = ".results", ".jsonl"
#: containers kept open per thread (each one file descriptor)
_OPEN_PER_THREAD = 64
_RANGE = re.compile(r"^(.*\.results)#(\d+):(\d+)$")

_names = random.Random()
os.register_at_fork(after_in_child=_names.seed)


@dataclass(slots=True)
class _Container:
    """One open container: its path, descriptor and size (its writer's own count)."""

    path: str
    fd: int
    size: int
    #: the flow run in which it was last seen still linked (None: check at every append)
    checked_in: object = None


class _Writers(threading.local):
    """This thread's open containers by (directory, suffix), oldest first."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], _Container] = {}


_writers = _Writers()


def append(directory: str, blob: bytes, suffix: str = RESULTS) -> tuple[str, int]:
    """Append ``blob`` to this thread's container in ``directory`` (a local path, made if
    missing); returns (the container's path, the offset the bytes start at).

    Raises:
        OSError: the directory cannot be made, or the bytes not written whole.
    """
    container = _writers.open.get((directory, suffix))
    flow_run = current().get("flow_run_id")
    if container is None or (
        (flow_run is None or container.checked_in != flow_run)
        and os.fstat(container.fd).st_nlink == 0  # deleted since the last flow run
    ):
        container = _open(directory, suffix)
    container.checked_in = flow_run
    offset = container.size
    try:
        written = os.write(container.fd, blob)
        if written != len(blob):  # a short write (a full disk, a signal): not whole
            raise OSError(f"wrote {written} of {len(blob)} bytes to {container.path!r}")
    except OSError:
        container.size = os.fstat(container.fd).st_size  # the next append goes after it
        raise
    container.size = offset + written
    return container.path, offset


def location_of(path: str, offset: int, length: int) -> str:
    """The location of ``length`` bytes at ``offset`` in the container at ``path``."""
    return f"file://{path}#{offset}:{length}"


def byte_range(path: str) -> tuple[str, int, int] | None:
    """(container path, offset, length) of a local path naming a range of a container,
    else None (a plain file)."""
    if "#" not in path:
        return None
    found = _RANGE.match(path)
    if found is None:
        return None
    return found.group(1), int(found.group(2)), int(found.group(3))


def read_range(path: str, offset: int, length: int) -> bytes:
    """The ``length`` bytes at ``offset`` in the container at ``path``.

    Inside a flow run a thread keeps the containers it read open (``_Readers``): a cached
    re-run reads a range per child, mostly from the same few containers, with one
    ``pread`` each instead of an open, a read and a close.

    Raises:
        FileNotFoundError: no container there.
        EOFError: the container is shorter than the range (truncated, or another file).
    """
    flow_run = current().get("flow_run_id")
    if flow_run is None:
        fd = os.open(path, os.O_RDONLY)
        try:
            blob = os.pread(fd, length, offset)
        finally:
            os.close(fd)
    else:
        blob = os.pread(_readers.open_for(path, flow_run), length, offset)
    if len(blob) != length:
        raise EOFError(f"{path!r} holds {offset + len(blob)} bytes, not {offset + length}")
    return blob


class _Readers(threading.local):
    """Containers this thread read in the current flow run, open (closed at the next)."""

    def __init__(self) -> None:
        self.flow_run: object = None
        self.open: dict[str, int] = {}

    def open_for(self, path: str, flow_run: object) -> int:
        if flow_run != self.flow_run:  # another flow run: what it reads is read anew
            self.close_all()
            self.flow_run = flow_run
        fd = self.open.get(path)
        if fd is None:
            if len(self.open) >= _OPEN_PER_THREAD:
                os.close(self.open.pop(next(iter(self.open))))
            fd = self.open[path] = os.open(path, os.O_RDONLY)
        return fd

    def close_all(self) -> None:
        for fd in self.open.values():
            os.close(fd)
        self.open.clear()


_readers = _Readers()


def has_range(path: str, offset: int, length: int) -> bool:
    """Whether the container at ``path`` exists and holds the whole range."""
    try:
        return os.stat(path).st_size >= offset + length
    except OSError:
        return False


def close_all() -> None:
    """Close this thread's open containers (a later append starts new ones)."""
    for container in _writers.open.values():
        os.close(container.fd)
    _writers.open.clear()
    _readers.close_all()


def _open(directory: str, suffix: str) -> _Container:
    """A new container of this thread in ``directory`` (the oldest open one closed when
    too many are)."""
    writers = _writers
    deleted = writers.open.pop((directory, suffix), None)
    if deleted is not None:
        os.close(deleted.fd)
    if len(writers.open) >= _OPEN_PER_THREAD:
        oldest = next(iter(writers.open))
        os.close(writers.open.pop(oldest).fd)
    name = f"{os.getpid()}-{threading.get_ident():x}-{_names.getrandbits(32):08x}{suffix}"
    path = os.path.join(directory, name)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:  # the first container in a new directory: make it, once
        os.makedirs(directory, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    container = _Container(path, fd, 0)
    writers.open[(directory, suffix)] = container
    return container


def _forget_writers() -> None:
    """In a forked child: the parent's containers are not ours (their descriptors are
    left to the parent; the child opens its own)."""
    global _writers, _readers
    _writers = _Writers()
    _readers = _Readers()


os.register_at_fork(after_in_child=_forget_writers)
