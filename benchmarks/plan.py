"""Which groups (workload x size x runner x APIs) a run measures.

The full plan keeps under 20 minutes on 2 cores, where raw Dask pays about 2 ms per
task: that is why N = 100,000 on Dask is its own command (raw Dask alone needs about
4 minutes per repetition for mapreduce and 7 for map2) and the 1,000,000-child map
runs without a raw-Dask baseline by default (it would take over half an hour).
``--quick`` keeps under 2 minutes. ``--workload``, ``--n``, ``--runner`` and ``--api``
narrow or override the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.runners import RUNNERS
from benchmarks.workloads import WORKLOADS

SCENARIOS = ("build", "import")
#: workloads that need a cluster (no in-process loop to compare with)
_DASK_ONLY = ("long", "locality")
_DASK = ("dask-threads", "dask-procs")


@dataclass(frozen=True)
class Group:
    workload: str
    n: int
    runner: str
    apis: tuple[str, ...]


_FULL: dict[str, dict[str, tuple[int, ...]]] = {
    "sequential": {
        "mapreduce": (1_000, 10_000, 100_000),
        "map2": (1_000, 10_000, 100_000),
        "fanout": (1_000, 10_000, 100_000),
        "chain": (1_000,),
    },
    "dask-threads": {
        "mapreduce": (1_000, 10_000),
        "map2": (1_000, 10_000),
        "fanout": (10_000,),
        "chain": (1_000,),
        "long": (16,),
        "locality": (100,),
    },
    "dask-procs": {
        "mapreduce": (1_000,),
        "map2": (1_000,),
        "fanout": (1_000,),
        "chain": (1_000,),
        "long": (16,),
        "locality": (100,),
    },
    "none": {"build": (10_000,), "import": (0,)},
}

_QUICK: dict[str, dict[str, tuple[int, ...]]] = {
    "sequential": {"mapreduce": (1_000,), "map2": (1_000,), "fanout": (1_000,), "chain": (1_000,)},
    "dask-threads": {
        "mapreduce": (200,),
        "map2": (200,),
        "fanout": (200,),
        "chain": (100,),
        "long": (16,),
    },
    "dask-procs": {"mapreduce": (200,), "chain": (100,), "locality": (32,)},
    "none": {"build": (10_000,), "import": (0,)},
}


def default_apis(workload: str, n: int, runner: str, quick: bool = False) -> tuple[str, ...]:
    """dag and flow; plus dag-b1 (batching off) for maps on Dask at N = 10,000 (the target's
    size; any size up to that with ``--quick``).

    Long children run through the DAG API only on processes and in ``--quick`` (a run
    takes 4 s; the target is on threads).
    """
    if workload in SCENARIOS or (workload == "long" and (quick or runner == "dask-procs")):
        return ("dag",)
    unbatched = n == 10_000 or (quick and n <= 10_000)
    if workload in ("mapreduce", "map2") and runner in _DASK and unbatched:
        return ("dag", "dag-b1", "flow")
    return ("dag", "flow")


def build_plan(
    quick: bool,
    workloads: Sequence[str] | None,
    sizes: Sequence[int] | None,
    runners: Sequence[str] | None,
    apis: Sequence[str] | None,
) -> list[Group]:
    """The groups to measure, in runner order (one cluster at a time)."""
    base = _QUICK if quick else _FULL
    chosen = set(workloads) if workloads else None
    groups = []
    for runner in (*RUNNERS, "none"):
        if runners and runner not in runners and runner != "none":
            continue
        wants_scenarios = bool(chosen and chosen.intersection(SCENARIOS))
        if runner == "none" and runners and not wants_scenarios:
            continue
        for workload in _workloads_for(runner, chosen, base):
            default_sizes = base[runner].get(workload) or _FULL[runner].get(workload) or (16,)
            for n in sizes if sizes and workload != "import" else default_sizes:
                chosen_apis = tuple(apis) if apis else default_apis(workload, n, runner, quick)
                groups.append(Group(workload, n, runner, chosen_apis))
    return groups


def _workloads_for(
    runner: str, chosen: set[str] | None, base: dict[str, dict[str, tuple[int, ...]]]
) -> list[str]:
    if chosen is None:
        return list(base[runner])
    if runner == "none":
        return [w for w in SCENARIOS if w in chosen]
    return [w for w in WORKLOADS if w in chosen and (runner in _DASK or w not in _DASK_ONLY)]


def check_names(workloads: Sequence[str] | None, runners: Sequence[str] | None) -> None:
    """Raise ``SystemExit`` naming an unknown workload or runner and the known ones."""
    known = [*WORKLOADS, *SCENARIOS]
    for name in workloads or ():
        if name not in known:
            raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(known)}")
    for name in runners or ():
        if name not in RUNNERS:
            raise SystemExit(f"unknown runner {name!r}; choose from {', '.join(RUNNERS)}")
