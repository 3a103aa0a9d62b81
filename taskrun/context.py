"""Run context: a dict-like view of keys that user code reads during a run.

``orchestrator.context`` is the one instance of ``Context``. Its values live in a
``ContextVar`` holding an immutable mapping, so threads and Dask worker threads
each see their own run's keys. Layers, lowest first:

    [context] table of the user config file  ->  with context(...) overrides
    ->  flow-run keys (flow_name, today, ...)  ->  task-run keys (task_name, map_index, ...)

The executor sets the run keys around the user call and resets them afterwards.

Assignment (``context.a = 1``, ``context["a"] = 1``, ``update``, ``setdefault``, ``del``)
changes the current scope's keys, copy-on-write: it is undone when the enclosing
``with context(...)`` block (or task run) ends. Outside every block it lasts for the
thread (as Prefect 1's global context), and that thread then no longer sees
``reload_config()`` until it leaves the scope it assigned in.

The config layer is read once, when this module is imported. ``reload_config()``
reads the file again (after ``$ORCHESTRATOR_CONFIG`` changed, say); code outside
any ``with context(...)`` block sees the new keys at once, while open blocks and
runs already started keep the keys they began with.

A config file that cannot be read (broken TOML, a ``[context]`` that is not a table, no
permission) must not stop ``import orchestrator``, ``orchestrator --help`` or a worker
from starting: at import the module logs one warning naming the file and the problem,
and the config layer is empty, so runs see none of the file's keys (as if it were
missing) until it is fixed and read again. ``reload_config()``, an explicit request,
raises instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)

CONFIG_ENV = "ORCHESTRATOR_CONFIG"
DEFAULT_CONFIG = Path("~/.orchestrator/config.toml")


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file: ``path``, else ``$ORCHESTRATOR_CONFIG``, else the default."""
    return Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser()


def load_config_context(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the ``[context]`` table of the user config file (missing file: empty).

    Raises:
        tomllib.TOMLDecodeError: the file is not TOML (a note names the file).
        ValueError: its ``[context]`` is not a table.
        OSError: the file exists but cannot be read.
    """
    target = config_path(path)
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


def _load_config_at_import() -> Mapping[str, Any]:
    """The config layer at import: the file's ``[context]``, or empty (and one warning)
    when the file cannot be read, so a broken file does not break every import."""
    try:
        return MappingProxyType(load_config_context())
    except (OSError, ValueError) as err:  # TOMLDecodeError is a ValueError
        problem = " ".join(f"{type(err).__name__}: {err}".split())
        logger.warning(
            "Ignoring the orchestrator config file %r (%s): runs see none of its [context] "
            "keys until it is fixed and read again (reload_config() or a restart).",
            str(config_path()),
            problem,
        )
        return MappingProxyType({})


#: the ``[context]`` table of the config file: what is seen outside every ``with`` block
_config: Mapping[str, Any] = _load_config_at_import()
#: the keys of the innermost ``with context(...)`` block or run; None outside all of them
_values: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "orchestrator_context", default=None
)


def reload_config(path: str | os.PathLike[str] | None = None) -> Mapping[str, Any]:
    """Read the config file's ``[context]`` table again and make it the base layer.

    Args:
        path: the file to read; default ``$ORCHESTRATOR_CONFIG``, else
            ``~/.orchestrator/config.toml``.

    Returns:
        The new config layer. Blocks already open (and runs already started) keep
        the keys they copied when they began.

    Raises:
        tomllib.TOMLDecodeError, ValueError, OSError: as ``load_config_context``; the
            config layer stays as it was.
    """
    global _config
    _config = MappingProxyType(load_config_context(path))
    return _config


def current() -> Mapping[str, Any]:
    """The current mapping, for code that ships context to another thread or process."""
    values = _values.get()
    return _config if values is None else values


Token = contextvars.Token[Mapping[str, Any] | None]


def enter(keys: dict[str, Any]) -> Token:
    """Make ``keys`` the whole current mapping until ``leave(token)``.

    For the executor's hot path, which merges ``current()`` and its run keys into one
    dict itself; ``keys`` is kept as is (read-only to user code), so the caller must not
    change it afterwards. Everyone else uses ``with context(...)``.
    """
    return _values.set(MappingProxyType(keys))


def leave(token: Token) -> None:
    """Bring back the mapping that was current before ``enter`` returned ``token``."""
    _values.reset(token)


class _Override(contextlib.ContextDecorator):
    """A ``with context(...)`` block (or ``@context(...)`` decorator): a class rather than
    ``@contextmanager``, which costs a generator per block (task bodies may open one per
    task run)."""

    def __init__(
        self, view: Context, layers: tuple[Mapping[str, Any], ...], kwargs: dict[str, Any]
    ) -> None:
        self._view = view
        self._layers = layers
        self._kwargs = kwargs

    def __enter__(self) -> Context:
        # merged on entry, not when ``context(...)`` is called: the block overrides the keys
        # current where it opens
        merged = dict(current())
        for mapping in self._layers:
            merged.update(mapping)
        merged.update(self._kwargs)
        self._token = enter(merged)
        return self._view

    def __exit__(self, *exc_info: object) -> None:
        leave(self._token)

    def _recreate_cm(self) -> _Override:
        # a fresh block per call of a decorated function, so recursive calls nest
        return _Override(self._view, self._layers, self._kwargs)


def _replace(change: Callable[[dict[str, Any]], Any]) -> Any:
    """Apply ``change`` to a copy of the current keys and make the copy current (in this
    scope only: the enclosing block's token brings the old mapping back)."""
    keys = dict(current())
    result = change(keys)
    _values.set(MappingProxyType(keys))
    return result


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(
            f"context keys must be strings (tasks read them as context.key or "
            f"context['key']); got {key!r} (a {type(key).__name__}). Write context['key'] = value."
        )
    return key


class Context:
    """Dict-like, attribute-access view of the current run context.

    Reads and writes go to the current scope's keys (see the module docstring), so
    ``context.a`` and ``context["a"]`` always agree.

    >>> from orchestrator import context
    >>> with context(a=2):
    ...     context.b = 3
    ...     (context.a, context["b"], context.get("c", "none"))
    (2, 3, 'none')
    >>> "b" in context
    False
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return current()[name]
        except KeyError:
            raise AttributeError(
                f"context has no key {name!r}; use context.get({name!r}) for optional keys"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return current()[key]

    def __contains__(self, key: object) -> bool:
        return key in current()

    def __iter__(self) -> Iterator[str]:
        return iter(dict(current()))

    def __len__(self) -> int:
        return len(current())

    def get(self, key: str, default: Any = None) -> Any:
        return current().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        _replace(lambda keys: keys.__setitem__(key, value))

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delitem__(self, key: str) -> None:
        if key not in current():
            raise KeyError(key)
        _replace(lambda keys: keys.pop(key))

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"context has no key {name!r} to delete") from None

    def update(self, *args: Mapping[str, Any], **kwargs: Any) -> None:
        """Set several keys in the current scope (as ``dict.update``, mappings only)."""
        for mapping in args:
            _check_override(mapping)

        def change(keys: dict[str, Any]) -> None:
            for mapping in args:
                keys.update(mapping)
            keys.update(kwargs)

        _replace(change)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``context[key]``, first setting it to ``default`` in this scope if missing."""
        values = current()
        if key in values:
            return values[key]
        self[key] = default
        return default

    def keys(self) -> list[str]:
        return list(current())

    def items(self) -> list[tuple[str, Any]]:
        return list(current().items())

    def to_dict(self) -> dict[str, Any]:
        """A plain copy of the current keys."""
        return dict(current())

    def __call__(self, *args: Mapping[str, Any], **kwargs: Any) -> _Override:
        """Override keys inside a ``with`` block; the old values come back afterwards.

        Raises:
            TypeError: a positional argument is not a mapping, or has a key that is not a
                string (at this call, not when the block opens).
        """
        for mapping in args:
            _check_override(mapping)
        return _Override(self, args, kwargs)

    def __repr__(self) -> str:
        shown = {k: v for k, v in current().items() if k != "logger"}
        return f"<Context {shown!r}>"


context = Context()


def non_string_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    """The keys of ``mapping`` that are not strings (context keys are names)."""
    return [key for key in mapping if not isinstance(key, str)]


def _check_override(mapping: Any) -> None:
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"context(...) takes mappings and keywords, got {mapping!r} (a "
            f"{type(mapping).__name__}). Write context(key=value) or context({{'key': value}})."
        )
    bad = non_string_keys(mapping)
    if bad:
        raise TypeError(
            f"context keys must be strings (tasks read them as context.key or "
            f"context['key']); got {bad[:10]!r}. Write context({{'key': value}})."
        )


def date_keys(
    today: str | _dt.date | None = None, now: _dt.datetime | None = None
) -> dict[str, Any]:
    """The time keys of a run: ``date``, ``today``, ``yesterday``, ``tomorrow`` (and the
    ``*_nodash`` forms). An overridden ``today`` (backfills) shifts the other two."""
    now = now or _dt.datetime.now(_dt.UTC)
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
