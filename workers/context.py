"""Run context: a dict-like view of keys that user code reads during a run.

``orchestrator.context`` is the one instance of ``Context``. Its values live in a
``ContextVar`` holding an immutable mapping, so threads and Dask worker threads
each see their own run's keys. Layers, lowest first:

    [context] table of the user config file  ->  with context(...) overrides
    ->  flow-run keys (flow_name, today, ...)  ->  task-run keys (task_name, map_index, ...)

The executor sets the run keys around the user call and resets them afterwards.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)

CONFIG_ENV = "ORCHESTRATOR_CONFIG"
DEFAULT_CONFIG = Path("~/.orchestrator/config.toml")


def load_config_context(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the ``[context]`` table of the user config file (missing file: empty)."""
    target = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser()
    try:
        with target.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as err:
        err.add_note(f"while reading the orchestrator config file {str(target)!r}")
        raise
    table = document.get("context", {})
    if not isinstance(table, dict):
        raise ValueError(f"Config file {str(target)!r}: [context] must be a table, got {table!r}")
    return table


_values: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "orchestrator_context", default=MappingProxyType(load_config_context())
)


class Context:
    """Dict-like, attribute-access view of the current run context.

    >>> from orchestrator import context
    >>> with context(a=2):
    ...     (context.a, context["a"], context.get("b", "none"))
    (2, 2, 'none')
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return _values.get()[name]
        except KeyError:
            raise AttributeError(
                f"context has no key {name!r}; use context.get({name!r}) for optional keys"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return _values.get()[key]

    def __contains__(self, key: object) -> bool:
        return key in _values.get()

    def __iter__(self) -> Iterator[str]:
        return iter(dict(_values.get()))

    def __len__(self) -> int:
        return len(_values.get())

    def get(self, key: str, default: Any = None) -> Any:
        return _values.get().get(key, default)

    def keys(self) -> list[str]:
        return list(_values.get())

    def items(self) -> list[tuple[str, Any]]:
        return list(_values.get().items())

    def to_dict(self) -> dict[str, Any]:
        """A plain copy of the current keys."""
        return dict(_values.get())

    @contextlib.contextmanager
    def __call__(self, *args: Mapping[str, Any], **kwargs: Any) -> Iterator[Context]:
        """Override keys inside a ``with`` block; the old values come back afterwards."""
        merged = dict(_values.get())
        for mapping in args:
            merged.update(mapping)
        merged.update(kwargs)
        token = _values.set(MappingProxyType(merged))
        try:
            yield self
        finally:
            _values.reset(token)

    def __repr__(self) -> str:
        shown = {k: v for k, v in _values.get().items() if k != "logger"}
        return f"<Context {shown!r}>"


context = Context()


def date_keys(today: str | _dt.date | None = None, now: _dt.datetime | None = None) -> dict[str, Any]:
    """The time keys of a run: ``date``, ``today``, ``yesterday``, ``tomorrow`` (and the
    ``*_nodash`` forms). An overridden ``today`` (backfills) shifts the other two."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if today is None:
        day = now.date()
    elif isinstance(today, _dt.date):
        day = today
    else:
        try:
            day = _dt.date.fromisoformat(str(today))
        except ValueError as err:
            raise ValueError(
                f"context key 'today' must be a date like '2020-03-02', got {today!r}"
            ) from err
    keys: dict[str, Any] = {"date": now}
    for name, value in (
        ("today", day),
        ("yesterday", day - _dt.timedelta(days=1)),
        ("tomorrow", day + _dt.timedelta(days=1)),
    ):
        keys[name] = value.isoformat()
        keys[f"{name}_nodash"] = value.strftime("%Y%m%d")
    return keys


def current() -> Mapping[str, Any]:
    """The current mapping, for code that ships context to another thread or process."""
    return _values.get()
