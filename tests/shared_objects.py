"""Objects a test shares with the task runs it starts, on every task runner.

Task runs on Dask travel cloudpickled, even to an in-process cluster, so a list or an
event that a task body closes over would reach the worker as a copy: the test would
never see what the body recorded, and a body waiting on a copied event would wait
forever. A ``SharedObject`` pickles *by reference* instead: its pickle is a key into
this module's registry, and unpickling in the test process (the in-process
``LocalCluster(processes=False)`` of the contract suite) gives back the very object.

Unpickling in another process finds no such key and raises ``LookupError`` saying so:
these objects are for in-process runners and clusters only.

>>> import pickle
>>> recorder = Recorder()
>>> pickle.loads(pickle.dumps(recorder)) is recorder
True
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from typing import Any

#: every live shared object of this process, by key; entries vanish with their object
_REGISTRY: weakref.WeakValueDictionary[str, SharedObject] = weakref.WeakValueDictionary()
_KEYS = itertools.count()


def _find(key: str) -> SharedObject:
    """The shared object pickled as ``key`` (the unpickling half of ``__reduce__``)."""
    try:
        return _REGISTRY[key]
    except KeyError:
        raise LookupError(
            f"Shared test object {key!r} does not exist in process {os.getpid()}: shared "
            "objects unpickle only in the process that made them. Run the test on an "
            "in-process runner or a LocalCluster(processes=False)."
        ) from None


class SharedObject:
    """Base class: instances pickle as a reference to themselves, not as a copy."""

    def __init__(self) -> None:
        self._key = f"{type(self).__name__}-{os.getpid()}-{next(_KEYS)}"
        _REGISTRY[self._key] = self

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _find, (self._key,)


class Recorder(SharedObject):
    """A thread-safe list of events, for tests that count or order what task bodies did."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._events: list[object] = []

    def __call__(self, event: object) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[object]:
        """A copy of the events so far, in the order they were recorded."""
        with self._lock:
            return list(self._events)

    def count(self, event: object) -> int:
        with self._lock:
            return self._events.count(event)


class SharedEvent(SharedObject):
    """A ``threading.Event`` task bodies can wait on: they block until the test sets it."""

    def __init__(self) -> None:
        super().__init__()
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """True once the event is set; False if ``timeout`` seconds passed first."""
        return self._event.wait(timeout)
