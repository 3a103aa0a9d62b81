"""Result: where a task's results are stored and how they are serialized.

A ``Result`` is a storage URL prefix plus a serializer. ``write(value, location)``
serializes the value and stores it under the prefix; ``read(location)`` and
``exists(location)`` look there. Locations are relative to the prefix (or full URLs);
a task's ``target`` or the result's own ``location`` template says which one a task
run uses (``taskrun.results.locations``)::

    Result("s3://bucket/prefix")            # any fsspec URL: s3://, gs://, memory://, file://
    LocalResult(dir="~/results")            # a local directory (taskrun.results.local)
    PrefectResult()                         # small JSON values inline (taskrun.results.inline)

Results are picklable values (they travel to Dask workers inside their tasks); the
filesystem is looked up where the result is used, so each worker writes and reads its
storage directly, never through the orchestrator.
"""

from __future__ import annotations

from typing import Any

from taskrun.results import containers, fsspec_result
from taskrun.results.errors import ResultReadError, ResultWriteError
from taskrun.results.locations import LocationTemplate
from taskrun.results.serializers import PickleSerializer, Serializer

#: the location of a task run's result when neither its target nor its result names one:
#: unique per task run (results of every attempt and child kept apart)
DEFAULT_LOCATION = "{flow_name}/{task_slug}/{task_run_id}.result"


class Result:
    """Results stored under a storage URL (anything fsspec opens), with a serializer.

    Args:
        url: the prefix every relative location is stored under, e.g.
            ``"s3://bucket/prefix"``, ``"memory://tests"``, ``"file:///data/results"``.
        serializer: value <-> bytes; default ``PickleSerializer`` (cloudpickle).
        location: the default location template of a task run's result (a task's
            ``target`` wins over it), e.g. ``"{flow_name}/{task_name}/{map_index}.pkl"``.

    >>> r = Result("memory://doctest-results")
    >>> where = r.write({"rows": 3}, "etl/extract.pkl")
    >>> where, r.read(where), r.exists("etl/missing.pkl")
    ('memory://doctest-results/etl/extract.pkl', {'rows': 3}, False)
    """

    def __init__(
        self,
        url: str | None = None,
        serializer: Serializer | None = None,
        location: LocationTemplate | None = None,
    ) -> None:
        if url is not None and not isinstance(url, str):
            raise TypeError(f"Result(url={url!r}): the URL must be a string such as 's3://b/p'.")
        self.url = url or "file://" + _default_dir()
        self.serializer = serializer if serializer is not None else PickleSerializer()
        self.location = location

    # ---- locations -----------------------------------------------------------------------------
    def path(self, location: str) -> str:
        """The full URL of ``location`` (relative locations go under ``url``)."""
        return fsspec_result.join(self.url, location)

    # ---- storage ---------------------------------------------------------------------------------
    def write(self, value: Any, location: str) -> str:
        """Store ``value`` at ``location``; return where it went (what ``read`` takes).

        Raises:
            ResultWriteError: serializing or storing failed (the location and the cause).
        """
        where = self.path(location)
        try:
            blob = self.serializer.serialize(value)
            fsspec_result.write_bytes(where, blob)
        except Exception as err:  # storage and user serializers fail in many ways
            raise ResultWriteError(where, f"{type(err).__name__}: {err}") from err
        return where

    @property
    def can_append(self) -> bool:
        """Whether this storage is local disk, where ``append`` puts results in containers."""
        return fsspec_result.local_path(self.url) is not None

    def append(self, value: Any, directory: str) -> str:
        """Store ``value`` in this thread's container under ``directory`` (local storage
        only, see ``can_append``); return its location, ``file#offset:length``
        (``taskrun.results.containers``), which ``read`` takes like any other.

        Raises:
            ResultWriteError: serializing or storing failed (the directory and the cause).
        """
        where, path = local_directory(self, directory)
        try:
            if path is None:
                raise ValueError(f"{self.url!r} is not on local disk; use write() there")
            blob = self.serializer.serialize(value)
            container, offset = containers.append(path, blob)
        except Exception as err:  # storage and user serializers fail in many ways
            raise ResultWriteError(where, f"{type(err).__name__}: {err}") from err
        return containers.location_of(container, offset, len(blob))

    def read(self, location: str) -> Any:
        """The value stored at ``location``.

        Raises:
            ResultReadError: nothing readable there (the location and the cause).
        """
        where = self.path(location)
        try:
            return self.serializer.deserialize(fsspec_result.read_bytes(where))
        except Exception as err:  # a missing file, a broken pickle, a storage error
            raise ResultReadError(where, f"{type(err).__name__}: {err}") from err

    def exists(self, location: str) -> bool:
        """Whether a result is stored at ``location`` (a storage error counts as no)."""
        try:
            return fsspec_result.exists(self.path(location))
        except Exception:  # an unreachable store has nothing we can reuse
            return False

    # ---- values -------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), self.url))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def local_directory(result: Result, directory: str) -> tuple[str, str | None]:
    """(URL, local path) of ``directory`` under ``result``: the last few remembered (a
    map's children append to the same one)."""
    key = (type(result), result.url, directory)
    found = _directories.get(key)
    if found is None:
        where = result.path(directory)
        found = where, fsspec_result.local_path(where)
        if len(_directories) >= _DIRECTORIES_KEPT:
            _directories.clear()
        _directories[key] = found
    return found


_DIRECTORIES_KEPT = 64
_directories: dict[tuple[type, str, str], tuple[str, str | None]] = {}


def _default_dir() -> str:
    import os

    home = os.environ.get("ORCHESTRATOR_HOME") or os.path.expanduser("~/.orchestrator")
    return os.path.join(home, "results")
