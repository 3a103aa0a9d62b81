"""Listeners: who a task runner tells when a task run becomes final (``BaseTaskRunner.watch``).

Added and removed from any thread; ``tell`` reads an immutable tuple, so a backend's
event loop can call it without taking a lock on the hot path. A listener that raises
is logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("orchestrator.task_runners")


class Listeners:
    """A set of ``listener(handle)`` callables, told of each handle whose run became final."""

    __slots__ = ("_items", "_lock")

    def __init__(self) -> None:
        self._items: tuple[Callable[[Any], None], ...] = ()
        self._lock = threading.Lock()

    def add(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Start telling ``listener``; returns the function that stops it."""
        with self._lock:
            self._items = (*self._items, listener)

        def stop() -> None:
            with self._lock:
                self._items = tuple(item for item in self._items if item is not listener)

        return stop

    def __bool__(self) -> bool:
        return bool(self._items)

    def tell(self, handle: Any) -> None:
        for listener in self._items:
            try:
                listener(handle)
            except Exception:  # boundary: one listener's bug must not stop the backend
                logger.warning("A task-run listener failed", exc_info=True)
