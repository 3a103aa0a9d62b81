"""DeferredResult: a reference to a result kept outside this process, loaded on demand.

A task runner that leaves results where they were computed (a Dask worker's memory)
puts one of these in a state instead of the value. Looking at it is free: its type
name is known here, and two references can be compared (``is_same_reference``)
without fetching anything. Only ``fetch()`` (bring it here, still encoded) and
``load()`` (the value) do I/O; ``State.result()`` and ``State.data`` call ``load()`` the
first time the value is asked for.
"""

from __future__ import annotations

from typing import Any


class DeferredResult:
    """A result kept elsewhere (a Dask worker's memory) and loaded when first asked for.

    Subclasses implement ``load()`` and may refine ``is_same_reference``. It pickles as
    the value itself (``load()`` is called), so a state that crosses a process boundary
    carries its value.
    """

    __slots__ = ()

    #: the result's type name, for displays that must not load it
    type_name = "object"
    #: for an exception: its ``str()`` and its traceback as text, when known without
    #: loading it (displays and logs show these; None when unknown)
    text: str | None = None
    traceback: str | None = None

    def load(self) -> Any:
        """The value; raises an error saying why when it cannot be had any more."""
        raise NotImplementedError

    def fetch(self) -> bool:
        """Bring the value into this process, still encoded, so that ``load()`` works after
        the task runner that holds it has closed, without unpickling anything; False when
        this reference cannot (the caller then loads it while it still can)."""
        return False

    def is_same_reference(self, other: DeferredResult) -> bool:
        """Whether ``other`` refers to the same stored value, decided without loading.

        The same object by default (copies of a state share their reference); a subclass
        that can tell two references to one stored value apart from two values (the same
        Dask key) may say so here. It must not do I/O: ``State.__eq__`` relies on it.
        """
        return self is other

    def __reduce__(self) -> tuple[Any, ...]:
        return (_loaded, (self.load(),))


def _loaded(value: Any) -> Any:
    return value
