"""Pickled values from another process, kept as bytes until someone asks for them.

A result (or a failed run's exception) crosses processes pickled: from a worker to the
orchestrator inside a summary, from one worker to another as a Dask task's value. The
receiving side keeps the bytes in an ``InlineResult`` and unpickles them on the first
``load()`` (``State.result()``, ``State.data``), so

- the orchestrator unpickles nothing it receives from the cluster until a user reads a
  result (displays use ``type_name`` and ``text``, known without loading);
- a value that cannot be rebuilt where it arrives (its class missing there, a
  ``__setstate__`` that raises) fails only whoever reads it, with a
  ``ResultNotLoadableError`` naming the task run whose result it is -- never the
  orchestrator's event listener, and never Dask's transfer between workers (which
  would wait forever for a dependency it cannot load).

On the worker that computed it, a result is held as itself (``InlineResult.holding``):
only pickling it (Dask moving it to another worker, or spilling it) makes the bytes, out
of band (protocol 5), so a large array is not copied into them. The inputs a paused run
cached travel the same way (``LazyInputs``). Pure: no Dask here.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import cloudpickle

from taskrun.deferred_result import DeferredResult

_UNSET: Any = object()


class ResultNotLoadableError(RuntimeError):
    """A task run's result (or exception, or cached inputs) arrived pickled and could not
    be unpickled here."""

    def __init__(self, task_run: str, cause: str, what: str = "result") -> None:
        super().__init__(task_run, cause, what)
        self.task_run, self.cause, self.what = task_run, cause, what

    def __str__(self) -> str:
        return (
            f"Task run {self.task_run!r}: its {self.what} could not be loaded: {self.cause}. "
            "It was pickled where the task ran; loading it needs what it refers to (the "
            "same packages and modules, importable and working) where it is read."
        )


class InlineResult(DeferredResult):
    """A pickled value (a result, or a failed run's exception), unpickled on ``load()``.

    Args:
        head: the pickle bytes (None when built with ``holding``).
        type_name: the value's type name, for displays.
        task_run: the task run whose result it is (named when it cannot be loaded).
        text: ``str()`` of an exception, for displays that must not load it.
        traceback: an exception's traceback on the worker, as text.
        reason: an exception's ``reason`` attribute (a trigger's), for displays.
        buffers: the out-of-band buffers of a protocol-5 pickle.
    """

    __slots__ = ("_buffers", "_head", "_value", "reason", "task_run", "text", "traceback",
                 "type_name")  # fmt: skip

    def __init__(
        self,
        head: bytes | None,
        type_name: str,
        task_run: str,
        *,
        text: str | None = None,
        traceback: str | None = None,
        reason: str | None = None,
        buffers: Sequence[Any] = (),
    ) -> None:
        self._head = head
        self._buffers = tuple(buffers)
        self._value = _UNSET
        self.type_name = type_name
        self.task_run = task_run
        self.text, self.traceback, self.reason = text, traceback, reason

    @classmethod
    def holding(cls, value: Any, task_run: str) -> InlineResult:
        """A holder of ``value`` itself (on the worker that computed it)."""
        held = cls(None, type(value).__name__, task_run)
        held._value = value
        return held

    @property
    def is_loaded(self) -> bool:
        return self._value is not _UNSET

    def fetch(self) -> bool:
        """Nothing to do: the bytes are here."""
        return True

    def load(self) -> Any:
        """The value, unpickled once (the holder keeps it: other copies of the state
        share it); raises ``ResultNotLoadableError`` naming the task run."""
        value = self._value
        if value is not _UNSET:
            return value
        head, buffers = self._head, self._buffers
        if head is None:  # another thread loaded it meanwhile (the value is set first)
            return self._value
        try:
            value = pickle.loads(head, buffers=buffers)
        except Exception as err:  # any unpickling failure: the reader learns whose and why
            problem = f"{type(err).__name__}: {err}"
            raise ResultNotLoadableError(self.task_run, problem) from err
        if self.traceback and isinstance(value, BaseException):
            value.add_note(f"Traceback on the Dask worker:\n{self.traceback}")
        self._value = value
        self._head, self._buffers = None, ()
        return value

    def nbytes(self, sizeof: Any) -> int:
        """Bytes it takes: the value's size once loaded, else the pickle's."""
        if self._value is not _UNSET:
            return int(sizeof(self._value))
        head = self._head or b""
        return len(head) + sum(memoryview(b).nbytes for b in self._buffers)

    def is_same_reference(self, other: DeferredResult) -> bool:
        """The same holder, or two holders of equal pickles (compared without loading)."""
        if self is other:
            return True
        if not isinstance(other, InlineResult) or self._head is None or other._head is None:
            return False
        return self._head == other._head and not self._buffers and not other._buffers

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickles as its bytes (made from the value when it holds the value): the receiver
        unpickles the value only when it reads it."""
        head, buffers = self._head, self._buffers
        out_of_band = isinstance(protocol, int) and protocol >= 5
        if head is None:
            head, made = dumps_value(self._value, out_of_band)
            buffers = tuple(made)
        if out_of_band:
            shipped: tuple[Any, ...] = tuple(
                b if isinstance(b, pickle.PickleBuffer) else pickle.PickleBuffer(b) for b in buffers
            )
        else:
            shipped = tuple(bytes(memoryview(b)) for b in buffers)
        fields = (head, shipped, self.type_name, self.task_run, self.text, self.traceback)
        return (_rebuild, (*fields, self.reason))

    def __repr__(self) -> str:
        shown = "loaded" if self._value is not _UNSET else "not loaded"
        return f"<result of {self.task_run}: {self.type_name}, {shown}>"


def _rebuild(
    head: bytes,
    buffers: Sequence[Any],
    type_name: str,
    task_run: str,
    text: str | None,
    traceback: str | None,
    reason: str | None,
) -> InlineResult:
    return InlineResult(
        head, type_name, task_run, text=text, traceback=traceback, reason=reason, buffers=buffers
    )


def dumps_value(value: Any, out_of_band: bool = False) -> tuple[bytes, list[Any]]:
    """``value`` pickled (protocol 5; cloudpickle for lambdas and such), with its
    out-of-band buffers when ``out_of_band``."""
    buffers: list[Any] = []
    callback = buffers.append if out_of_band else None
    try:
        return pickle.dumps(value, protocol=5, buffer_callback=callback), buffers
    except Exception:  # any pickling failure: retry with cloudpickle
        buffers.clear()
        head: bytes = cloudpickle.dumps(value, protocol=5, buffer_callback=callback)
        return head, buffers


class LazyInputs(Mapping[str, Any]):
    """The inputs a paused task run cached, pickled; unpickled when first read (when the
    run resumes on a worker, or someone looks at them)."""

    __slots__ = ("_blob", "_inputs", "task_run")

    def __init__(self, blob: bytes, task_run: str) -> None:
        self._blob: bytes | None = blob
        self._inputs: dict[str, Any] | None = None
        self.task_run = task_run

    @property
    def blob(self) -> bytes:
        """The pickled inputs (pickled again if they were loaded here)."""
        if self._blob is not None:
            return self._blob
        return dumps_value(self._inputs)[0]

    def _load(self) -> dict[str, Any]:
        inputs = self._inputs
        if inputs is None:
            try:
                loaded = pickle.loads(self.blob)
            except Exception as err:  # any unpickling failure: say whose inputs and why
                problem = f"{type(err).__name__}: {err}"
                raise ResultNotLoadableError(self.task_run, problem, "cached inputs") from err
            if not isinstance(loaded, dict):
                raise ResultNotLoadableError(
                    self.task_run, f"a {type(loaded).__name__}, not a dict", "cached inputs"
                )
            inputs = self._inputs = loaded
        return inputs

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyInputs, (self.blob, self.task_run))

    def __repr__(self) -> str:
        shown = repr(self._inputs) if self._inputs is not None else "not loaded"
        return f"<inputs cached by {self.task_run}: {shown}>"
