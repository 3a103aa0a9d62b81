"""The context keys of one task run, and the random ids that name task runs.

The executor sets ``run_keys(...)`` as the whole context around a run (see
``taskrun.context.enter``), so the layers below are merged here, once per run:

    current keys (config file, ``with context`` blocks) -> flow-run keys (``run_context``)
    -> ``task_run_name`` -> task-run keys (task_name, map_index, task_run_id, logger, ...)
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

from taskrun.context import current
from taskrun.logs import task_logger
from taskrun.states import State
from taskrun.task_protocol import TaskLike

_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
#: bits of a random 128-bit number to clear, then to set, to make it a version-4 UUID
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_run_id() -> str:
    """A random UUID4 string, from a seeded generator rather than ``uuid.uuid4()``: its
    ``os.urandom`` system call releases the GIL, and on a busy Dask worker the thread then
    waits for it behind the event loop (up to the 5 ms switch interval, per task run).
    Formatted here, as ``str(uuid.UUID(int=..., version=4))`` would, in a third of the time."""
    digits = (_ids.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET).to_bytes(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def run_keys(
    task: TaskLike,
    label: str,
    map_index: int | None,
    run_context: Mapping[str, Any],
    task_run_name: str | None,
    initial: State | None,
) -> dict[str, Any]:
    """The context of the run, in one dict: the current keys, the flow-run keys, then the
    task-run keys (``task_run_id`` comes from ``run_context`` if it names one)."""
    base = current()
    keys = {**base, **run_context} if base else dict(run_context)
    if task_run_name is not None:
        keys["task_run_name"] = task_run_name
    name = task.name
    tags = task.tags
    keys["task_name"] = name
    keys["task_full_name"] = label
    keys["task_slug"] = task.slug or name
    keys["task_tags"] = sorted(tags) if tags else []
    keys["task_run_id"] = run_context.get("task_run_id") or new_run_id()
    keys["map_index"] = map_index
    keys["task_run_count"] = (initial.run_count if initial is not None else 0) + 1
    keys["logger"] = task_logger(name)
    return keys
