"""``gc_paused()``: no cyclic garbage collection while a block makes many objects at once.

Making 100,000 states (a map's children found ``Cached`` in one pass, or rebuilt from
their compact wire form) triggers the collector every few hundred allocations, and each
older-generation pass walks everything this process holds: a quarter of such a block's
time, for objects that are all kept. Reference counting still frees what is dropped; the
collector runs again as usual after the block. Nesting and threads are harmless: the
last block to end turns it back on, at worst a little early.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (if it was running)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
