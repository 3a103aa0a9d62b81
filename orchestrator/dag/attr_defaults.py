"""``defaults_from_attrs``: ``Task.run`` arguments that fall back to the task's attributes.

A task class can take its settings at creation (``Query(sql="...")``) and let each call
override them (``query(sql="other")``): arguments of ``run`` named in the decorator that
are left out, or given as None, take the attribute of the same name.

>>> from orchestrator import Task
>>> class Greet(Task):
...     def __init__(self, greeting="hello", **kwargs):
...         self.greeting = greeting
...         super().__init__(**kwargs)
...
...     @defaults_from_attrs("greeting")
...     def run(self, name, greeting=None):
...         return f"{greeting} {name}"
>>> Greet().run("ada"), Greet().run("ada", greeting="hi")
('hello ada', 'hi ada')

Unlike Prefect 1, an argument given by position counts as given (the call is bound to
``run``'s signature first). Bare ``@defaults_from_attrs`` covers every argument of ``run``
whose default is None.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def defaults_from_attrs(*names: Any) -> Any:
    """Decorate ``Task.run`` so the arguments ``names`` default to ``self.<name>``."""
    if len(names) == 1 and callable(names[0]) and not isinstance(names[0], str):
        return _wrap(names[0], None)  # bare @defaults_from_attrs
    bad = [name for name in names if not isinstance(name, str)]
    if bad:
        raise TypeError(
            f"defaults_from_attrs takes argument names (strings), got {bad!r}. Write "
            f"@defaults_from_attrs('sql', 'timeout') above def run(self, sql=None, timeout=None)."
        )

    def decorate(run: F) -> F:
        return _wrap(run, names)

    return decorate


def _wrap(run: F, names: tuple[str, ...] | None) -> F:
    signature = inspect.signature(run)
    parameters = signature.parameters
    if names is None:
        names = tuple(n for n, p in parameters.items() if p.default is None)
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise TypeError(
            f"defaults_from_attrs names {unknown}, which {run.__qualname__} does not take; "
            f"its signature is {signature}. Name arguments of run()."
        )
    chosen = names

    @functools.wraps(run)
    def run_with_defaults(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(self, *args, **kwargs)
        for name in chosen:
            if bound.arguments.get(name) is None:
                bound.arguments[name] = getattr(self, name)
        return run(*bound.args, **bound.kwargs)

    return run_with_defaults  # type: ignore[return-value]  # same signature (functools.wraps)
