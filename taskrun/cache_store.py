"""The cache of task results: in this process, and persisted next to stored results.

Two stores answer "which cached entries are there for this cache key?":

- **In-process** (``remember`` / ``entries``): a dict of key -> recent entries, as
  Prefect 1's in-memory cache. It lives as long as this Python process: across flows and
  runs in one notebook kernel, say. On Dask each worker process has its own.
- **Persisted index** (``write_index`` / ``read_index``): when the task's result is stored
  (not inline), one small JSON file per key is written beside the results, under
  ``{result url}/.cache/{hash of key}.json``: the result's location, its expiration, and
  digests of the inputs and parameters. It survives the process and is read from any
  worker that reaches the storage. The latest entry per key wins.

Entries hold the result as a ``StoredResult`` when it is stored (a hit read from the index
reads the value where the task runs), else the value itself.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from taskrun.lineage import Digest, digest_of
from taskrun.results import fsspec_result
from taskrun.results.base import Result
from taskrun.results.inline import PrefectResult
from taskrun.results.stored import StoredResult

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
    """Forget every in-process entry (persisted indexes stay)."""
    with _lock:
        _memory.clear()


def persists_index(result: Result | None) -> TypeGuard[Result]:
    """Whether ``result`` stores values where an index can sit beside them."""
    return result is not None and not isinstance(result, PrefectResult)


def index_location(result: Result, key: str) -> str:
    """The URL of the index file of ``key`` under ``result``'s storage."""
    name = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return result.path(f".cache/{name}.json")


def write_index(result: Result, key: str, entry: CacheEntry) -> None:
    """Persist ``entry`` as the index of ``key``; raises ``OSError`` and friends."""
    expiration = entry.cached_result_expiration
    record = {
        "key": key,
        "location": entry.location,
        "expires": expiration.timestamp() if expiration is not None else None,
        "inputs": _digests(entry.cached_inputs),
        "parameters": _digests(entry.cached_parameters),
    }
    fsspec_result.write_bytes(index_location(result, key), json.dumps(record).encode())


def read_index(result: Result, key: str) -> CacheEntry | None:
    """The persisted entry of ``key``, or None (none there, or unreadable: a cache miss)."""
    try:
        record = json.loads(fsspec_result.read_bytes(index_location(result, key)))
        location = record["location"]
        expires = record["expires"]
        inputs = {name: Digest(hex) for name, hex in record["inputs"].items()}
        parameters = {name: Digest(hex) for name, hex in record["parameters"].items()}
    except Exception:  # no index, or one written by something else: nothing to reuse
        return None
    if record.get("key") != key or not isinstance(location, str):
        return None
    expiration = None if expires is None else _dt.datetime.fromtimestamp(expires, _dt.UTC)
    value = StoredResult(result, location, key=key)
    return CacheEntry(value, inputs, parameters, expiration, location)


def _digests(values: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name, value in values.items():
        try:
            found[name] = value.hex if isinstance(value, Digest) else digest_of(value)
        except Exception:  # an input that cannot pickle matches nothing later
            found[name] = "unhashable"
    return found
