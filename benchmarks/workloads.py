"""Workloads: the same work written four ways (DAG flow, ``@flow``, raw Dask, plain loop).

Each workload is a ``Workload`` record of plain functions, so the harness treats them
alike. The task bodies live in ``bodies``; this module only wires them:

    mapreduce  add_one over range(N), then one total          N + 2 task runs
    map2       add_one over range(N), double nth-to-nth, total 2N + 2
    fanout     N independent add_one(i) calls, one total       N + 2 (a List task collects)
    chain      add_one(add_one(...add_one(0)))                 N
    long       N children sleeping ``seconds`` each, total     N + 2
    locality   make_blocks(N) -> block_length per block, total N + 2 (N MiB of data)

Mapped levels honour ``Options.batch_size`` (1 turns batching off), so the harness can
run a map with batching on and off against one raw-Dask baseline.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import bodies
from orchestrator import Flow, Task, task, unmapped

add_one = task(bodies.add_one, name="add_one")
double = task(bodies.double, name="double")
total = task(bodies.total, name="total")
nap = task(bodies.nap, name="nap")
make_blocks = task(bodies.make_blocks, name="make_blocks")
block_length = task(bodies.block_length, name="block_length")


@dataclass(frozen=True)
class Options:
    """Knobs of one measurement that are not the size."""

    #: how long a ``long`` child sleeps
    seconds: float = 0.5
    #: batch size for mapped levels; None leaves the task's default (automatic)
    batch_size: int | None = None

    @property
    def task_args(self) -> dict[str, Any]:
        """``task_args`` for a mapped call in a DAG flow."""
        return {} if self.batch_size is None else {"batch_size": self.batch_size}

    def mapped(self, template: Task) -> Task:
        """``template`` with this batch size, for a map inside ``@flow``."""
        return template if self.batch_size is None else template.copy(batch_size=self.batch_size)


@dataclass(frozen=True)
class Workload:
    """One benchmark workload, as plain functions of the size ``n`` and the options."""

    name: str
    summary: str
    #: task runs of one DAG run (the divisor of per-task numbers)
    task_runs: Callable[[int], int]
    #: the value every side must compute
    expected: Callable[[int, Options], int]
    #: builds the DAG flow; returns it and the task whose result is checked
    build: Callable[[int, Options], tuple[Flow, Task]]
    #: body of the ``@flow`` version: ``(n, options) -> Future`` of the checked value
    flow_body: Callable[[int, Options], Any]
    #: the same work on raw Dask: ``(client, n, options) -> value``
    raw: Callable[[Any, int, Options], int]
    #: the same work as a plain loop in this process; None: not run in-process
    loop: Callable[[int, Options], int] | None
    #: has a mapped level (so batching on/off both mean something)
    is_map: bool = True


def _sum_add_one(n: int) -> int:
    return n * (n - 1) // 2 + n


# ---- mapreduce -----------------------------------------------------------------------------
def _build_mapreduce(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"mapreduce-{n}") as flow:
        result = total(values=add_one.map(x=range(n), task_args=o.task_args))
    return flow, result


def _flow_mapreduce(n: int, o: Options) -> Any:
    return total(o.mapped(add_one).map(range(n)))


def _raw_mapreduce(client: Any, n: int, o: Options) -> int:
    values = client.map(bodies.add_one, range(n), pure=False)
    return int(client.submit(bodies.total, values, pure=False).result())


def _loop_mapreduce(n: int, o: Options) -> int:
    return bodies.total([bodies.add_one(x) for x in range(n)])


# ---- map2 ---------------------------------------------------------------------------------------
def _build_map2(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"map2-{n}") as flow:
        ones = add_one.map(x=range(n), task_args=o.task_args)
        result = total(values=double.map(x=ones, task_args=o.task_args))
    return flow, result


def _flow_map2(n: int, o: Options) -> Any:
    ones = o.mapped(add_one).map(range(n))
    return total(o.mapped(double).map(ones))


def _raw_map2(client: Any, n: int, o: Options) -> int:
    ones = client.map(bodies.add_one, range(n), pure=False)
    doubled = client.map(bodies.double, ones, pure=False)
    return int(client.submit(bodies.total, doubled, pure=False).result())


def _loop_map2(n: int, o: Options) -> int:
    return bodies.total([bodies.double(bodies.add_one(x)) for x in range(n)])


# ---- fanout -------------------------------------------------------------------------------------
def _build_fanout(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"fanout-{n}") as flow:
        result = total(values=[add_one(x=i) for i in range(n)])
    return flow, result


def _flow_fanout(n: int, o: Options) -> Any:
    return total([add_one(i) for i in range(n)])


def _raw_fanout(client: Any, n: int, o: Options) -> int:
    values = [client.submit(bodies.add_one, i, pure=False) for i in range(n)]
    return int(client.submit(bodies.total, values, pure=False).result())


# ---- chain --------------------------------------------------------------------------------------
def _build_chain(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"chain-{n}") as flow:
        value = add_one(x=0)
        for _ in range(n - 1):
            value = add_one(x=value)
    return flow, value


def _flow_chain(n: int, o: Options) -> Any:
    value = add_one(0)
    for _ in range(n - 1):
        value = add_one(value)
    return value


def _raw_chain(client: Any, n: int, o: Options) -> int:
    value = client.submit(bodies.add_one, 0, pure=False)
    for _ in range(n - 1):
        value = client.submit(bodies.add_one, value, pure=False)
    return int(value.result())


def _loop_chain(n: int, o: Options) -> int:
    value = 0
    for _ in range(n):
        value = bodies.add_one(value)
    return value


# ---- long children ------------------------------------------------------------------------------
def _build_long(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"long-{n}") as flow:
        naps = nap.map(x=range(n), seconds=unmapped(o.seconds), task_args=o.task_args)
        result = total(values=naps)
    return flow, result


def _flow_long(n: int, o: Options) -> Any:
    return total(o.mapped(nap).map(range(n), seconds=unmapped(o.seconds)))


def _raw_long(client: Any, n: int, o: Options) -> int:
    naps = client.map(bodies.nap, range(n), seconds=o.seconds, pure=False)
    return int(client.submit(bodies.total, naps, pure=False).result())


# ---- locality -----------------------------------------------------------------------------------
def _build_locality(n: int, o: Options) -> tuple[Flow, Task]:
    with Flow(f"locality-{n}") as flow:
        lengths = block_length.map(block=make_blocks(count=n), task_args=o.task_args)
        result = total(values=lengths)
    return flow, result


def _flow_locality(n: int, o: Options) -> Any:
    return total(o.mapped(block_length).map(make_blocks(n)))


def _raw_locality(client: Any, n: int, o: Options) -> int:
    blocks = client.submit(bodies.make_blocks, n, pure=False)
    items = [client.submit(operator.getitem, blocks, i, pure=False) for i in range(n)]
    lengths = client.map(bodies.block_length, items, pure=False)
    return int(client.submit(bodies.total, lengths, pure=False).result())


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "mapreduce",
            "map add_one over range(N), then one total",
            lambda n: n + 2,
            lambda n, o: _sum_add_one(n),
            _build_mapreduce,
            _flow_mapreduce,
            _raw_mapreduce,
            _loop_mapreduce,
        ),
        Workload(
            "map2",
            "two mapped levels (add_one, then double nth-to-nth), then one total",
            lambda n: 2 * n + 2,
            lambda n, o: 2 * _sum_add_one(n),
            _build_map2,
            _flow_map2,
            _raw_map2,
            _loop_map2,
        ),
        Workload(
            "fanout",
            "N independent add_one(i) task calls (not a map), one total",
            lambda n: n + 2,
            lambda n, o: _sum_add_one(n),
            _build_fanout,
            _flow_fanout,
            _raw_fanout,
            _loop_mapreduce,
            is_map=False,
        ),
        Workload(
            "chain",
            "N dependent add_one calls",
            lambda n: n,
            lambda n, o: n,
            _build_chain,
            _flow_chain,
            _raw_chain,
            _loop_chain,
            is_map=False,
        ),
        Workload(
            "long",
            "a mapped level of N children that each sleep (default 0.5 s), then total",
            lambda n: n + 2,
            lambda n, o: n * (n - 1) // 2,
            _build_long,
            _flow_long,
            _raw_long,
            None,
        ),
        Workload(
            "locality",
            "one task returns N blocks of 1 MiB, mapped by a length task, summed",
            lambda n: n + 2,
            lambda n, o: n * bodies.BLOCK_BYTES,
            _build_locality,
            _flow_locality,
            _raw_locality,
            None,
        ),
    )
}
