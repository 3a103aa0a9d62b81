"""Scenarios without a cluster: building a large flow, and importing ``workers``.

- ``build``: build (functional API) and ``validate()`` a flow of N tasks shaped as a
  binary tree (task i reads task (i-1)//2). Baseline: the same graph as a plain Dask
  graph dict, ordered with ``dask.core.toposort`` (which also finds cycles).
- ``import``: ``import workers`` in a fresh interpreter, timed inside the child around
  the import alone; every worker process pays this. Baseline: ``import distributed``,
  which every Dask worker imports anyway. The child also reports whether ``dask`` or
  ``orchestrator`` came along with ``workers``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks import bodies
from benchmarks.harness import Side
from benchmarks.workloads import add_one
from orchestrator import Flow


def build_sides(n: int) -> tuple[list[Side], Side]:
    def ours() -> int:
        with Flow(f"build-{n}") as flow:
            nodes = [add_one(x=0)]
            for i in range(1, n):
                nodes.append(add_one(x=nodes[(i - 1) // 2]))
        flow.validate()
        return len(flow.tasks)

    def dask_graph() -> int:
        from dask.core import toposort

        graph: dict[str, Any] = {"t0": (bodies.add_one, 0)}
        for i in range(1, n):
            graph[f"t{i}"] = (bodies.add_one, f"t{(i - 1) // 2}")
        return len(toposort(graph))  # type: ignore[no-untyped-call]  # dask is untyped

    return [Side("dag", ours)], Side("dask-graph", dask_graph)


_CHILD = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "dask": "dask" in sys.modules,
                  "orchestrator": "orchestrator" in sys.modules}}))
"""

#: what the last ``import workers`` child reported besides its time
last_import_report: dict[str, Any] = {}


def _import_in_child(module: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if module == "workers":
        last_import_report.update(report)
    return float(report["seconds"])


def measure_imports(reps: int) -> tuple[Side, Side]:
    ours, base = Side("import workers", None), Side("import distributed", None)
    for _ in range(reps):
        ours.seconds.append(_import_in_child("workers"))
        base.seconds.append(_import_in_child("distributed"))
    return ours, base
