"""LocalResult: results as files in a local directory.

The directory is made absolute when the result is created, so a task shipped to a Dask
worker writes where its author meant (workers on other machines need that path on
shared storage).
"""

from __future__ import annotations

import os

from taskrun.results.base import Result, _default_dir
from taskrun.results.locations import LocationTemplate
from taskrun.results.serializers import Serializer


class LocalResult(Result):
    """Results stored as files under ``dir`` (default ``$ORCHESTRATOR_HOME/results``).

    >>> import tempfile
    >>> r = LocalResult(dir=tempfile.mkdtemp())
    >>> r.read(r.write([1, 2], "a/b.pkl"))
    [1, 2]
    """

    def __init__(
        self,
        dir: str | os.PathLike[str] | None = None,
        serializer: Serializer | None = None,
        location: LocationTemplate | None = None,
    ) -> None:
        self.dir = os.path.abspath(os.path.expanduser(os.fspath(dir or _default_dir())))
        super().__init__("file://" + self.dir, serializer, location)

    def path(self, location: str) -> str:
        if os.path.isabs(location):
            return "file://" + location
        return super().path(location)

    def __repr__(self) -> str:
        return f"LocalResult(dir={self.dir!r})"
