"""Tags for the tasks made in a block: ``with tags("etl", "nightly"):``.

Every task created or copied (called in a flow) inside the block gets the block's tags
besides its own; blocks nest and add up. The tags are also the context key ``tags`` while
the block is open, as in Prefect 1, so code inside can read them.

>>> from orchestrator import Task
>>> with tags("etl"):
...     with tags("nightly"):
...         task = Task(name="load", tags=["db"])
>>> sorted(task.tags)
['db', 'etl', 'nightly']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from taskrun.context import context


def context_tags() -> set[str]:
    """The tags of the enclosing ``with tags(...)`` blocks (a new set; empty outside them)."""
    current = context.get("tags")
    return set(current) if current else set()


@contextlib.contextmanager
def tags(*names: str) -> Iterator[None]:
    """Add ``names`` to every task created inside the block (blocks nest)."""
    bad = [name for name in names if not isinstance(name, str)]
    if bad:
        raise TypeError(
            f"tags() takes tag names (strings), got {bad!r}. Write tags('a', 'b'), "
            f"or tags(*my_list) for a list."
        )
    combined = context_tags() | set(names)
    with context(tags=combined):
        yield
