"""Prefect 1's ``prefect.utilities.debug`` path: ``raise_on_exception()`` for debugging.

Inside ``with raise_on_exception():`` an error raised by a task's body is not turned into
a ``Failed`` state: it propagates out of ``flow.run()`` (or ``TaskRunner.run``) as it was
raised, with its traceback, so a debugger (``python -m pdb``, ``%debug``) stops in the
task's code. Signals (``SKIP``, ``RETRY``, ...) still become states.

It applies to bodies run in the thread that opened the block: the sequential task runner
(the default). Bodies run elsewhere (the thread-pool runner, Dask workers, the child
process of a ``timeout``) are not affected: their errors still become ``Failed``, so such a
run goes on (a debugger could not reach those bodies anyway).

>>> from orchestrator import Flow, task
>>> @task
... def broken():
...     raise ValueError("look here")
>>> with Flow("debug") as flow:
...     _ = broken()
>>> with raise_on_exception():
...     flow.run()
Traceback (most recent call last):
...
ValueError: look here
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from taskrun.body_call import RAISE_ON_EXCEPTION, BodyRaised


@contextlib.contextmanager
def raise_on_exception() -> Iterator[None]:
    """Let task bodies' errors propagate out of runs started inside the block."""
    token = RAISE_ON_EXCEPTION.set(threading.get_ident())
    try:
        yield
    except BodyRaised as raised:
        raise raised.error from None
    finally:
        RAISE_ON_EXCEPTION.reset(token)


__all__ = ["raise_on_exception"]
