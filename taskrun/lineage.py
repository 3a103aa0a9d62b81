"""Lineage keys: a cache key made from where a result comes from, not from its data.

A task run's lineage key hashes

    the task's identity (class, name, function) and the hash of its code
    + its constant arguments + the flow run's parameters + its map index
    + for each upstream edge: the upstream result's own key

An upstream result that was stored (checkpointed or cached) carries the key it was
stored under (``StoredResult.key``), so a child of a map over stored results gets its key
without hashing any data; only an upstream value that was never stored is hashed
(``digest_of``). Changing the code of a task changes its key and every key downstream
(its bytecode and constants: a comment or a moved line does not).

``Digest`` stands for a value in a persisted cache index: it compares equal to any value
whose pickle hashes the same, so cache validators compare it as they would the value.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import types
from collections.abc import Hashable, Mapping
from typing import Any

import cloudpickle

from taskrun.results.stored import StoredResult
from taskrun.states import State

_DIGEST_BYTES = 16


def digest_of(value: Any) -> str:
    """A short hex digest of ``value``'s pickle (cloudpickle; plain pickle, which writes
    the same bytes several times faster, for numbers and strings and lists of them)."""
    blob = pickle.dumps(value, _PROTOCOL) if _is_plain(value) else cloudpickle.dumps(value)
    return hashlib.blake2b(blob, digest_size=_DIGEST_BYTES).hexdigest()


#: the pickle protocol of digests (fixed: a digest must not change with the Python version)
_PROTOCOL = 5
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
_NESTING = 4


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is a number or string, or a list or tuple of such (a few deep)."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if (kind is list or kind is tuple) and depth < _NESTING:
        return all(_is_plain(item, depth + 1) for item in value)
    return False


class Digest:
    """A value known only by its digest; ``==`` hashes the other side to compare."""

    __slots__ = ("hex",)

    def __init__(self, hex: str) -> None:
        self.hex = hex

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Digest):
            return self.hex == other.hex
        try:
            return digest_of(other) == self.hex
        except Exception:  # an unpicklable value matches no digest
            return False

    def __hash__(self) -> int:
        return hash(self.hex)

    def __repr__(self) -> str:
        return f"Digest({self.hex!r})"


def task_fingerprint(task: Any) -> str:
    """The task's identity and code hash (remembered per function code)."""
    function = getattr(task, "__wrapped__", None) or getattr(task, "fn", None) or task.run
    code = getattr(function, "__code__", None)
    source = _source_digest(code) if code is not None else type(task).__qualname__
    return "|".join((type(task).__module__, type(task).__qualname__, str(task.name), source))


@functools.lru_cache(maxsize=1024)
def _source_digest(code: Any) -> str:
    """A digest of a function's code: its bytecode, names and constants (nested functions
    included), not its text, so comments and moved lines do not count. Computed from the
    code object, never from the source file: ``inspect.getsource`` costs a millisecond or
    more, and on Dask every worker pays it for every task it loads."""
    blob = pickle.dumps(_code_parts(code), _PROTOCOL)
    return hashlib.blake2b(blob, digest_size=_DIGEST_BYTES).hexdigest()


def _code_parts(code: Any) -> tuple[Any, ...]:
    constants = tuple(_constant_part(value) for value in code.co_consts)
    return (code.co_code, constants, code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars, code.co_argcount, code.co_kwonlyargcount)  # fmt: skip


def _constant_part(value: Any) -> Any:
    if isinstance(value, types.CodeType):
        return _code_parts(value)
    if isinstance(value, frozenset):  # its order follows string hashing, which varies
        return ("frozenset", tuple(sorted(repr(item) for item in value)))
    return repr(value)


def lineage_key(
    task: Any,
    map_index: int | None,
    constants: Mapping[str, Any],
    upstream_states: Mapping[Hashable, State],
    parameters: Mapping[str, Any],
) -> str:
    """The lineage key of one task run (see the module docstring)."""
    parts: list[Any] = [task_fingerprint(task), map_index, sorted(constants.items())]
    parts.append(sorted(parameters.items()))
    upstream = []
    for edge, state in upstream_states.items():
        key = getattr(edge, "key", None)
        if key is not None:  # data edges only: a state-only edge passes nothing
            upstream.append((key, upstream_key(state)))
    parts.append(sorted(upstream))
    try:
        return digest_of(parts)
    except Exception:  # a constant or parameter that cannot pickle: no lineage
        return digest_of([parts[0], map_index, repr(parts[2:])])


def upstream_key(state: State) -> str:
    """What an upstream state contributes to a lineage key: its stored result's key,
    else (a mapped parent) its children's, else a digest of its value."""
    value = state._result
    if isinstance(value, StoredResult) and value.key:
        return value.key
    if value is None and state.map_states:
        return digest_of([upstream_key(child) for child in state.map_states])
    return digest_of(state.read_result(False))
