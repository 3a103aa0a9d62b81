"""Readable names for runs: flow runs like ``neon-guan``, task runs like ``add-80de7cb5-1``.

Task-run names put the task name first so Dask dashboards group runs by task,
then a token stable for the task within a flow, then the map index or call count.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

_ADJECTIVES = (
    "amber",
    "bold",
    "brave",
    "calm",
    "clever",
    "cosmic",
    "crimson",
    "daring",
    "eager",
    "fancy",
    "gentle",
    "golden",
    "happy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "mellow",
    "neon",
    "nimble",
    "olive",
    "polite",
    "quick",
    "rapid",
    "silver",
    "smart",
    "sunny",
    "swift",
    "tidy",
    "urban",
    "vivid",
    "warm",
    "witty",
    "young",
    "zesty",
)
_ANIMALS = (
    "aardvark",
    "badger",
    "bison",
    "cheetah",
    "dingo",
    "dolphin",
    "eagle",
    "ferret",
    "gecko",
    "guan",
    "heron",
    "ibis",
    "jackal",
    "koala",
    "lemur",
    "lynx",
    "marmot",
    "newt",
    "ocelot",
    "otter",
    "panda",
    "puffin",
    "quail",
    "raven",
    "salmon",
    "tapir",
    "toucan",
    "urchin",
    "vulture",
    "walrus",
    "wombat",
    "yak",
    "zebra",
)


def flow_run_name(rng: random.Random | None = None) -> str:
    """A memorable two-word name such as ``neon-guan``."""
    pick = rng or random
    return f"{pick.choice(_ADJECTIVES)}-{pick.choice(_ANIMALS)}"


def task_token(task: Any) -> str:
    """Eight hex digits derived from the task's slug: stable for one task object."""
    return f"{zlib.crc32(task.slug.encode()):08x}"


def task_run_name(task: Any, index: int | None) -> str:
    """``{task}-{token}-{index}``: the index is the map index or the call count."""
    return f"{task_run_prefix(task)}{index or 0}"


def task_run_prefix(task: Any) -> str:
    """``{task}-{token}-``: what every run name of ``task`` starts with."""
    return f"{task.name}-{task_token(task)}-"
