"""The cache of task results: in this process, and persisted next to stored results.

Two stores answer "which cached entries are there for this cache key?":

- **In-process** (``remember`` / ``entries``): a dict of key -> recent entries, as
  Prefect 1's in-memory cache. It lives as long as this Python process: across flows and
  runs in one notebook kernel, say. On Dask each worker process has its own.
- **Persisted index** (``write_index`` / ``read_index``): when the task's result is stored
  (not inline), a record per entry is kept beside the results, under ``{result url}/.cache/``:
  the key, the result's location, its expiration, when it was written, and digests of the
  inputs and parameters. It survives the process and is read from any worker that
  reaches the storage. The latest record per key wins.

  On local disk the records are JSON lines appended to containers (one per writing
  thread, ``taskrun.results.containers``), each line ``key TAB written TAB record`` (the
  key as JSON text), split into 16 shards by a hash of the key: no file is created per
  entry, and a process reads the index in bulk, each shard's containers once, not one
  file per cache check, parsing a record only when its key is asked for. It reads
  again (only what was appended since) when a task run of another flow run asks, so a
  flow run sees what earlier runs wrote; entries written by other processes during the
  same flow run are not seen (their task runs' own process cache has them). Object
  stores cannot append: there each key has one JSON object, ``.cache/{hash of key}.json``.
  Index containers only grow; deleting ``.cache/`` forgets every persisted entry.

Entries hold the result as a ``StoredResult`` when it is stored (a hit read from the index
reads the value where the task runs), else the value itself.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from taskrun.context import current
from taskrun.lineage import Digest, digest_of
from taskrun.results import containers, fsspec_result
from taskrun.results.base import Result, local_directory
from taskrun.results.inline import PrefectResult
from taskrun.results.stored import StoredResult
from taskrun.warm_up import add_warm_up

#: entries kept per key in this process (newest first); older ones are dropped
_PER_KEY = 8


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached result and what it was computed from (validators read these)."""

    #: the result: a ``StoredResult`` when stored, else the value
    value: Any
    #: the run's keyword arguments (``Digest`` values when read from a persisted index)
    cached_inputs: Mapping[str, Any]
    #: the flow run's parameters (``Digest`` values when read from a persisted index)
    cached_parameters: Mapping[str, Any]
    #: when it stops being valid; None: never
    cached_result_expiration: _dt.datetime | None
    #: where the result is stored; None when only in memory
    location: str | None = None


_memory: dict[str, list[CacheEntry]] = {}
_lock = threading.Lock()


def remember(key: str, entry: CacheEntry) -> None:
    """Add ``entry`` under ``key`` in this process's cache (newest first)."""
    with _lock:
        kept = _memory.get(key, [])
        _memory[key] = [entry, *kept[: _PER_KEY - 1]]


def entries(key: str) -> list[CacheEntry]:
    """This process's entries for ``key``, newest first."""
    with _lock:
        return list(_memory.get(key, ()))


def clear() -> None:
    """Forget every in-process entry and what was read of persisted indexes (they stay,
    and are read again when next asked: as in a new process)."""
    with _lock:
        _memory.clear()
    with _scan_lock:
        _scans.clear()


def persists_index(result: Result | None) -> TypeGuard[Result]:
    """Whether ``result`` stores values where an index can sit beside them."""
    return result is not None and not isinstance(result, PrefectResult)


def index_location(result: Result, key: str) -> str:
    """The URL of the index file of ``key`` under ``result``'s storage."""
    name = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return result.path(f".cache/{name}.json")


def write_index(result: Result, key: str, entry: CacheEntry) -> None:
    """Persist ``entry`` as the newest record of ``key``; raises ``OSError`` and friends."""
    expiration = entry.cached_result_expiration
    record = {
        "key": key,
        "location": entry.location,
        "expires": expiration.timestamp() if expiration is not None else None,
        "written": time.time(),
        "inputs": _digests(entry.cached_inputs),
        "parameters": _digests(entry.cached_parameters),
    }
    text = json.dumps(record)
    directory = _local_index_directory(result)
    if directory is None:
        fsspec_result.write_bytes(index_location(result, key), text.encode())
    else:  # the key and the time first, so a bulk read need not parse every record
        key_text = json.dumps(key)
        line = f"{key_text}\t{record['written']!r}\t{text}\n"
        containers.append(directory, line.encode(), _shard_suffix(key_text))


def read_index(result: Result, key: str) -> CacheEntry | None:
    """The persisted entry of ``key``, or None (none there, or unreadable: a cache miss)."""
    directory = _local_index_directory(result)
    if directory is None:
        try:
            record = json.loads(fsspec_result.read_bytes(index_location(result, key)))
        except Exception:  # no index, or one written by something else: nothing to reuse
            return None
    else:
        key_text = json.dumps(key)
        found = _local_index(directory, _shard_suffix(key_text)).get(key_text)
        try:
            record = json.loads(found[1]) if found is not None else None
        except ValueError:  # a line written by something else: nothing to reuse
            return None
    return _entry_of(result, key, record) if record is not None else None


def _entry_of(result: Result, key: str, record: Any) -> CacheEntry | None:
    try:
        location = record["location"]
        expires = record["expires"]
        inputs = {name: Digest(hex) for name, hex in record["inputs"].items()}
        parameters = {name: Digest(hex) for name, hex in record["parameters"].items()}
    except Exception:  # a record written by something else: nothing to reuse
        return None
    if record.get("key") != key or not isinstance(location, str):
        return None
    expiration = None if expires is None else _dt.datetime.fromtimestamp(expires, _dt.UTC)
    value = StoredResult(result, location, key=key)
    return CacheEntry(value, inputs, parameters, expiration, location)


def _local_index_directory(result: Result) -> str | None:
    """The local directory of ``result``'s index containers; None off local disk."""
    return local_directory(result, ".cache")[1]


#: a local index line, as read in bulk: (when it was written, its JSON record, unparsed)
_Line = tuple[float, bytes]


class _IndexScan:
    """What this process has read of one local index directory: the newest line per key
    (by the key's JSON text), and how far into each container it read."""

    def __init__(self) -> None:
        self.records: dict[str, _Line] = {}
        self.offsets: dict[str, int] = {}
        #: the flow run this scan is current for (None: read again on every ask)
        self.flow_run_id: object = None


_scans: dict[tuple[str, str], _IndexScan] = {}
_scan_lock = threading.Lock()
#: index containers are split by a hash of the key: the first cache check of a flow run
#: reads one shard, not the whole index (a task run's measured duration includes it, and
#: Dask batches are sized from the first children's durations)
_SHARDS = 16
#: a wait for the index this long is a bulk read (``taskrun.warm_up``), not a lookup
_WARM_UP_SECONDS = 0.001


def _shard_suffix(key_text: str) -> str:
    """The name ending of the index containers that hold the key (as JSON text)."""
    return f"-{zlib.crc32(key_text.encode()) % _SHARDS:x}{containers.INDEX}"


def _local_index(directory: str, suffix: str) -> dict[str, _Line]:
    """The newest record per key in the ``suffix`` shard of ``directory`` (read in bulk,
    see the module docstring)."""
    flow_run_id = current().get("flow_run_id")
    asked = time.perf_counter()
    with _scan_lock:
        waited = time.perf_counter() - asked  # behind another thread's bulk read, maybe
        scan = _scans.setdefault((directory, suffix), _IndexScan())
        if flow_run_id is None or scan.flow_run_id != flow_run_id:
            _read_new_records(directory, suffix, scan)
            scan.flow_run_id = flow_run_id
            waited = time.perf_counter() - asked
        if waited > _WARM_UP_SECONDS:  # once per flow run: not what a check costs
            add_warm_up(waited)
        return scan.records


def _read_new_records(directory: str, suffix: str, scan: _IndexScan) -> None:
    """Read what was appended to the shard's containers since ``scan`` last looked."""
    try:
        names = [name for name in os.listdir(directory) if name.endswith(suffix)]
    except OSError:  # no index yet
        return
    for name in names:
        path = os.path.join(directory, name)
        start = scan.offsets.get(path, 0)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                blob = handle.read()
        except OSError:  # removed meanwhile
            continue
        complete = blob.rfind(b"\n") + 1  # a line still being written is read next time
        scan.offsets[path] = start + complete
        for line in blob[:complete].splitlines():
            _keep_newest(scan.records, line)


def _keep_newest(records: dict[str, _Line], line: bytes) -> None:
    """Keep ``line`` (``key-json TAB written TAB record-json``) if it is its key's newest."""
    parts = line.split(b"\t", 2)
    try:
        key, written = parts[0].decode(), float(parts[1])
        kept = records.get(key)
        if kept is None or kept[0] <= written:
            records[key] = (written, parts[2])
    except (IndexError, ValueError):  # a line written by something else: skipped
        return


def _digests(values: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name, value in values.items():
        try:
            found[name] = value.hex if isinstance(value, Digest) else digest_of(value)
        except Exception:  # an input that cannot pickle matches nothing later
            found[name] = "unhashable"
    return found
