"""How a task is copied: fast shallow copies, fresh slugs, and the shared argument layout.

A flow built functionally copies a task at every call, so a copy must be cheap: the
generic ``copy.copy`` machinery is skipped for classes that keep the default pickling
protocol (the copy is the same: a new object sharing the same attribute values), and a
copy keeps its template's ``ArgumentLayout`` (worked out once per ``run`` signature).
"""

from __future__ import annotations

import copy
import copyreg
import inspect
import os
import random
import weakref
from typing import Any, Protocol, TypeVar

from orchestrator.dag.argument_layout import ArgumentLayout


class _HasSignature(Protocol):
    signature: inspect.Signature
    _arguments: ArgumentLayout


T = TypeVar("T")

_slugs = random.Random()  # not uuid4(): its os.urandom call costs more than the rest of a copy
os.register_at_fork(after_in_child=_slugs.seed)


def new_slug(name: str) -> str:
    """``{name}-{8 random hex digits}``: a task's slug when none is given."""
    return f"{name}-{_slugs.getrandbits(32):08x}"


def argument_layout(task_obj: _HasSignature) -> ArgumentLayout:
    """The argument layout of ``task_obj``'s current ``signature`` (kept on the task, so
    its copies share it)."""
    signature = task_obj.signature
    layout: ArgumentLayout | None = vars(task_obj).get("_arguments")
    if layout is None or layout.signature is not signature:
        layout = task_obj._arguments = ArgumentLayout(signature)
    return layout


def shallow_copy(task_obj: T, default_getstate: Any) -> T:
    """``copy.copy(task_obj)``, without its generic machinery when the class keeps the
    default pickling protocol (``default_getstate`` is the base class's ``__getstate__``)."""
    cls = type(task_obj)
    plain = _PLAIN_COPY.get(cls)
    if plain is None:
        plain = _PLAIN_COPY[cls] = (
            cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and getattr(cls, "__getstate__", None) is default_getstate
            and getattr(cls, "__copy__", None) is None
            and getattr(cls, "__setstate__", None) is None
            and cls not in copyreg.dispatch_table
        )
    if not plain:
        return copy.copy(task_obj)
    new = cls.__new__(cls)
    new.__dict__.update(task_obj.__dict__)
    return new


#: per task class: whether ``copy.copy`` would copy it the plain way (decided at its first copy)
_PLAIN_COPY: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()
