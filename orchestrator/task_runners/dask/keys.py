"""Dask keys and Dask task options for task runs: pure string and tag handling, no Dask.

Keys put the task name first, so the dashboard groups task runs by task (Dask's
``key_split`` keeps the leading words and stops at the hex token):

    one task run          add_one-1f2e3d4c-17-9a8b7c6d     task-run name, flow-run token
    a batch of children   add_one-1f2e3d4c-0-99-9a8b7c6d   first and last map index
    a slice of a result   load-5e6f7a8b-slice-0-4-9a8b7c6d
    a group of task runs  add_one-1f2e3d4c-17-group-700-9a8b7c6d   first run, how many

The flow-run token keeps two runs of one flow on one cluster apart. Tags of the form
``dask-resource:GPU=1`` become Dask resource requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

RESOURCE_TAG = "dask-resource:"


class ResourceTagError(ValueError):
    """A ``dask-resource:`` tag that does not read ``dask-resource:NAME=AMOUNT``."""

    def __init__(self, task_name: str, tag: str) -> None:
        super().__init__(task_name, tag)
        self.task_name, self.tag = task_name, tag

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r}: tag {self.tag!r} is not a Dask resource request. "
            f"Write it as {RESOURCE_TAG}NAME=AMOUNT, e.g. tags=['{RESOURCE_TAG}GPU=1']."
        )


def run_token(run_context: Mapping[str, Any]) -> str:
    """Eight hex digits of the flow run's id (random when the run has none)."""
    run_id = str(run_context.get("flow_run_id") or uuid.uuid4())
    digits = run_id.replace("-", "")
    return digits[:8] if len(digits) >= 8 else uuid.uuid4().hex[:8]


def task_run_key(task_run_name: str, token: str) -> str:
    """``add_one-1f2e3d4c-17-9a8b7c6d``: the task-run name, then the flow-run token."""
    return f"{task_run_name}-{token}"


def batch_key(task_run_name: str, first: int, last: int, token: str) -> str:
    """The key of a batch of mapped children ``first..last`` (map indexes, inclusive).

    ``task_run_name`` is any child's name (``name-token8-index``); its index is replaced.
    """
    stem = task_run_name.rsplit("-", 1)[0]
    return f"{stem}-{first}-{last}-{token}"


def group_key(task_run_name: str, count: int, token: str) -> str:
    """The key of a group of ``count`` task runs, the first named ``task_run_name``."""
    return f"{task_run_name}-group-{count}-{token}"


def slice_key(task_run_name: str, start: int, stop: int, token: str) -> str:
    """The key of a slice ``start:stop`` cut from the result of ``task_run_name``."""
    return f"{task_run_name}-slice-{start}-{stop}-{token}"


def resources_from_tags(task_name: str, tags: Iterable[str]) -> dict[str, float] | None:
    """Dask resources requested by ``dask-resource:NAME=AMOUNT`` tags (None: no request).

    >>> resources_from_tags("train", {"dask-resource:GPU=1", "nightly"})
    {'GPU': 1.0}
    """
    resources: dict[str, float] = {}
    for tag in sorted(tags):
        if not tag.startswith(RESOURCE_TAG):
            continue
        name, sep, amount = tag[len(RESOURCE_TAG) :].partition("=")
        try:
            value = float(amount)
        except ValueError:
            raise ResourceTagError(task_name, tag) from None
        if not sep or not name.strip() or value < 0:
            raise ResourceTagError(task_name, tag)
        resources[name.strip()] = value
    return resources or None
