"""BatchPlan: the plans of a batch of mapped children, stored column by column.

The children of one mapped task differ in little: the map index, the name made from it,
and where each upstream state sits (usually member ``j`` of an upstream batch, or element
``j`` of a slice). A ``BatchPlan`` keeps what they share once and each varying column as
a pattern, falling back to one value per child, so a batch of 5,000 children travels in
a few hundred bytes and unfolds into ``RunPlan``s on the worker::

    column          pattern                   child j
    name            ("stem", stem)            f"{stem}-{map_index}"
    ints            ("step", first)           first + j
                    ("same", value)           value
    ref pointers    ("step", arg, start)      ((arg, start + j),)   member j of a batch
                    ("args", first)           (first + j,)          argument j
                    ("same", pointers)        pointers              a reduce, an unmapped input
    anything        ("each", values)          values[j]

Opaque to Dask (not a tuple or list), so Dask does not search it for futures. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from taskrun.dask.shipping import RunPlan, WireRef

_SAME, _STEP, _ARGS, _EACH, _STEM = "same", "step", "args", "each", "stem"
#: RunPlan fields stored as one shared value or one per child
_PLAIN_FIELDS = (
    "inputs", "templates", "initial_state", "is_start_task", "mapping_problem", "inline_limit",
)  # fmt: skip


class BatchPlan:
    """The ``RunPlan``s of one batch (see the module docstring); iterate for the plans."""

    __slots__ = ("columns", "key", "size")

    def __init__(self, key: str, size: int, columns: tuple[Any, ...]) -> None:
        self.key = key
        self.size = size
        #: (names, map indexes, refs, plain fields), or ("plans", explicit plans)
        self.columns = columns

    @classmethod
    def pack(cls, key: str, plans: Sequence[Sequence[Any]]) -> BatchPlan:
        """Store ``plans`` (``RunPlan``s or their plain tuples; their key and position are
        replaced)."""
        column = _columns(plans, RunPlan._fields)
        refs = _pack_refs(column["refs"])
        if refs is None:
            return cls(key, len(plans), ("plans", tuple(tuple(p) for p in plans)))
        map_indexes = _pack_values(column["map_index"], steps=True)
        names = _pack_names(column["name"], column["map_index"])
        fields = tuple(_pack_values(column[name]) for name in _PLAIN_FIELDS)
        return cls(key, len(plans), (names, map_indexes, refs, fields))

    def rekeyed(self, key: str) -> BatchPlan:
        return BatchPlan(key, self.size, self.columns)

    def __iter__(self) -> Iterator[RunPlan]:
        """The children's ``RunPlan``s (their refs as plain tuples), position ``j`` for
        child ``j``."""
        if self.columns[0] == "plans":
            for position, plan in enumerate(self.columns[1]):
                yield RunPlan._make(plan)._replace(key=self.key, position=position)
            return
        names, map_indexes, refs, fields = self.columns
        for j in range(self.size):
            map_index = _at(map_indexes, j)
            name = f"{names[1]}-{map_index}" if names[0] == _STEM else names[1][j]
            plan_refs = tuple(
                (edge, _pointers(pointers, j), reduce, _at(index, j), flattened)
                for edge, reduce, flattened, pointers, index in refs
            )
            yield RunPlan(self.key, j, name, map_index, plan_refs, *(_at(f, j) for f in fields))

    def __len__(self) -> int:
        return self.size

    def __reduce__(self) -> tuple[Any, ...]:
        return (BatchPlan, (self.key, self.size, self.columns))

    def __repr__(self) -> str:
        return f"<BatchPlan {self.key}: {self.size} task runs>"


def _columns(rows: Sequence[Sequence[Any]], fields: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    """Each field of ``rows`` (tuples in ``fields`` order): its values, row by row."""
    return dict(zip(fields, zip(*rows, strict=True), strict=True))


def _at(column: tuple[Any, ...], j: int) -> Any:
    kind = column[0]
    if kind == _SAME:
        return column[1]
    if kind == _STEP:
        return column[1] + j
    return column[1][j]


def _pointers(column: tuple[Any, ...], j: int) -> tuple[Any, ...]:
    kind = column[0]
    if kind == _STEP:
        return ((column[1], column[2] + j),)
    if kind == _ARGS:
        return (column[1] + j,)
    return _at(column, j)  # type: ignore[no-any-return]


def _pack_values(values: Sequence[Any], steps: bool = False) -> tuple[Any, ...]:
    first = values[0]
    if all(v is first for v in values) or _all_equal(values):
        return (_SAME, first)
    if (
        steps
        and all(type(v) is int for v in values)
        and all(v == first + j for j, v in enumerate(values))
    ):
        return (_STEP, first)
    return (_EACH, tuple(values))


def _all_equal(values: Sequence[Any]) -> bool:
    first = values[0]
    if not isinstance(first, (int, str, bool, type(None))):
        return False
    return all(type(v) is type(first) and v == first for v in values)


def _pack_names(names: Sequence[str], map_indexes: Sequence[Any]) -> tuple[Any, ...]:
    stem = names[0].rsplit("-", 1)[0]
    if all(name == f"{stem}-{index}" for name, index in zip(names, map_indexes, strict=True)):
        return (_STEM, stem)
    return (_EACH, tuple(names))


def _pack_refs(ref_lists: Sequence[Sequence[Any]]) -> tuple[Any, ...] | None:
    """Per ref: (edge, reduce, flattened, pointers column, index column); None if the
    children's refs differ in shape (then plans travel as they are)."""
    first = ref_lists[0]
    if any(len(refs) != len(first) for refs in ref_lists):
        return None
    packed = []
    for k in range(len(first)):
        ref = WireRef._make(first[k])
        column = _columns([refs[k] for refs in ref_lists], WireRef._fields)
        if (
            any(edge is not ref.edge for edge in column["edge"])
            or any(reduce != ref.reduce for reduce in column["reduce"])
            or any(flattened != ref.flattened for flattened in column["flattened"])
        ):
            return None
        packed.append(
            (
                ref.edge,
                ref.reduce,
                ref.flattened,
                _pack_pointers(column["pointers"]),
                _pack_values(column["item"], steps=True),
            )
        )
    return tuple(packed)


def _pack_pointers(values: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    first = values[0]
    if len(first) == 1 and isinstance(first[0], tuple) and len(first[0]) == 2:
        arg, start = first[0]
        if all(len(v) == 1 and v[0] == (arg, start + j) for j, v in enumerate(values)):
            return (_STEP, arg, start)
    if (
        len(first) == 1
        and type(first[0]) is int
        and all(v == (first[0] + j,) for j, v in enumerate(values))
    ):
        return (_ARGS, first[0])
    if all(v == first for v in values):
        return (_SAME, first)
    return (_EACH, tuple(values))
