"""PrefectResult: a small JSON value kept inline, its "location" the JSON text itself.

Nothing is written anywhere: the location a run records *is* the serialized value, so
it travels with the state's metadata (as Prefect 1's ``PrefectResult``). Only for small
JSON values (counts, ids, short lists); anything else belongs in a storage result.
"""

from __future__ import annotations

from typing import Any

from taskrun.results.base import Result
from taskrun.results.errors import ResultReadError, ResultWriteError
from taskrun.results.serializers import JSONSerializer, Serializer


class PrefectResult(Result):
    """A result whose location is its JSON text (no storage).

    >>> r = PrefectResult()
    >>> r.write({"n": 3}, "ignored"), r.read('{"n": 3}')
    ('{"n": 3}', {'n': 3})
    """

    def __init__(self, serializer: Serializer | None = None) -> None:
        super().__init__("inline://", serializer or JSONSerializer())

    def path(self, location: str) -> str:
        return location

    def write(self, value: Any, location: str) -> str:
        """The value's JSON text (``location`` is not used: the text is the location)."""
        try:
            return self.serializer.serialize(value).decode()
        except Exception as err:  # not JSON-serializable, say
            shown = f"{type(value).__name__} value"
            raise ResultWriteError(f"<inline {shown}>", f"{type(err).__name__}: {err}") from err

    def read(self, location: str) -> Any:
        try:
            return self.serializer.deserialize(location.encode())
        except Exception as err:  # not JSON text
            raise ResultReadError(location[:200], f"{type(err).__name__}: {err}") from err

    def exists(self, location: str) -> bool:
        """Whether ``location`` is JSON text this result can read (the value is the location)."""
        try:
            self.serializer.deserialize(location.encode())
        except Exception:  # not JSON text: nothing stored there
            return False
        return True

    def __repr__(self) -> str:
        return "PrefectResult()"
