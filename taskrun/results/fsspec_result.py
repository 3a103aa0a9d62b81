"""Storage behind a ``Result``: fsspec filesystems, by URL.

fsspec is the storage layer Dask itself uses, so any URL it knows works here with no
new code: ``file://`` (and plain paths), ``memory://`` (one process; for tests),
``s3://`` and ``gs://`` (with s3fs / gcsfs installed), and the rest of fsspec's
protocols. A cluster whose workers share storage persists there.

Writes to a local filesystem go to a temporary file next to the target, renamed into
place once complete, so a crash mid-write never leaves a partial file that a later run
would take for a finished target. Object stores write whole objects anyway. A local
location ``file#offset:length`` names a range of a container (``containers``).
"""

from __future__ import annotations

import os
import random
from typing import Any

from fsspec.core import url_to_fs  # type: ignore[import-untyped]  # fsspec ships no types

from taskrun.results import containers

#: the fsspec filesystem of each protocol, per process (fsspec caches instances too; this
#: skips parsing a URL's options on every task run)
_filesystems: dict[str, Any] = {}
_suffixes = random.Random()
os.register_at_fork(after_in_child=_suffixes.seed)
_LOCAL = ("file://", "local://")


def local_path(url: str) -> str | None:
    """The path of a local-disk URL (``file://...`` or a plain path), else None."""
    for prefix in _LOCAL:
        if url.startswith(prefix):
            return url[len(prefix) :]
    return None if "://" in url else url


def storage(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for a URL that is not on local disk."""
    protocol = url.split("://", 1)[0]
    fs = _filesystems.get(protocol)
    if fs is None:
        fs, _ = url_to_fs(url)
        _filesystems[protocol] = fs
    return fs, fs._strip_protocol(url)


def write_bytes(url: str, blob: bytes) -> None:
    """Store ``blob`` at ``url`` (parent directories made); raises ``OSError`` and friends.

    On local disk the bytes go to a temporary file renamed into place (see the module
    docstring), without fsspec's per-call overhead: a map writes one file per child.
    """
    path = local_path(url)
    if path is None:
        fs, path = storage(url)
        parent = fs._parent(path)
        if parent:
            fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(path, blob)
        return
    try:
        _write_replacing(path, blob)
    except FileNotFoundError:  # the first write into a new directory: make it, once
        parent = os.path.dirname(path)
        if not parent:
            raise
        os.makedirs(parent, exist_ok=True)
        _write_replacing(path, blob)


def _write_replacing(path: str, blob: bytes) -> None:
    partial = f"{path}.partial-{_suffixes.getrandbits(48):012x}"
    try:
        with open(partial, "wb") as handle:
            handle.write(blob)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def read_bytes(url: str) -> bytes:
    """The bytes stored at ``url`` (a file, or a range of a container: ``file#offset:length``,
    ``taskrun.results.containers``); raises ``FileNotFoundError`` and friends."""
    path = local_path(url)
    if path is not None:
        found = containers.byte_range(path)
        if found is not None:
            return containers.read_range(*found)
        return _read_file(path)
    fs, path = storage(url)
    return bytes(fs.cat_file(path))


def _read_file(path: str) -> bytes:
    """A whole local file, unbuffered: open, one read, close for a small one (a map's
    cached re-run reads one per child, and on a busy process every system call waits
    for the GIL again on its way back)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(fd, _FIRST_READ)]
        while len(chunks[-1]) == (_FIRST_READ if len(chunks) == 1 else _NEXT_READ):
            chunks.append(os.read(fd, _NEXT_READ))  # a bigger file: read on to its end
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


#: bytes of the first read of a whole file (most results are smaller), then of the next ones
_FIRST_READ = 1 << 16
_NEXT_READ = 1 << 22


def exists(url: str) -> bool:
    """Whether something is stored at ``url``."""
    path = local_path(url)
    if path is not None:
        found = containers.byte_range(path)
        return containers.has_range(*found) if found is not None else os.path.exists(path)
    fs, path = storage(url)
    return bool(fs.exists(path))


def join(prefix: str, location: str) -> str:
    """``location`` under ``prefix``, unless it is a URL or an absolute path already."""
    if "://" in location or os.path.isabs(location):
        return location
    return f"{prefix.rstrip('/')}/{location.lstrip('/')}"
