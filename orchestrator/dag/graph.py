"""Pure graph algorithms over ``{node: [upstream nodes]}`` mappings.

Nodes are any hashables (tasks, in practice). Orders are deterministic: among
nodes that are ready together, the one seen first in the input goes first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


class GraphCycle(Exception):
    """Raised by ``topological_order``; ``cycle`` lists nodes, the first repeated last."""

    def __init__(self, cycle: Sequence[Hashable]) -> None:
        super().__init__(list(cycle))
        self.cycle = list(cycle)


def topological_order(upstream: Mapping[N, Iterable[N]]) -> list[N]:
    """Every node after all of its upstream nodes (Kahn's algorithm).

    Raises:
        GraphCycle: with one cycle of the graph when there is no such order.
    """
    pending = {node: 0 for node in upstream}
    #: each node's children in input order: nodes are visited in that order to fill them
    downstream: dict[N, list[N]] = {node: [] for node in upstream}
    for node, parents in upstream.items():
        for parent in parents:
            if parent not in pending:
                raise KeyError(f"{node!r} depends on {parent!r}, which is not in the graph")
            pending[node] += 1
            downstream[parent].append(node)
    ready = deque(node for node, count in pending.items() if count == 0)
    order: list[N] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in downstream[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if len(order) != len(pending):
        cycle = find_cycle(upstream)
        raise GraphCycle(cycle)
    return order


def find_cycle(upstream: Mapping[N, Iterable[N]]) -> list[N]:
    """One cycle as ``[a, b, ..., a]`` (in dependency direction), or ``[]`` if acyclic."""
    downstream: dict[N, list[N]] = {node: [] for node in upstream}
    for node, parents in upstream.items():
        for parent in parents:
            downstream.setdefault(parent, []).append(node)
    colour: dict[N, int] = {}  # 1: on the current path, 2: done
    for root in upstream:
        if root in colour:
            continue
        path: list[N] = [root]
        iterators = [iter(downstream[root])]
        colour[root] = 1
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                colour[path.pop()] = 2
                iterators.pop()
                continue
            if colour.get(child) == 1:
                return [*path[path.index(child) :], child]
            if child not in colour:
                colour[child] = 1
                path.append(child)
                iterators.append(iter(downstream.get(child, ())))
    return []


def descendants(upstream: Mapping[N, Iterable[N]], roots: Iterable[N]) -> set[N]:
    """``roots`` and every node downstream of them."""
    downstream: dict[N, list[N]] = {}
    for node, parents in upstream.items():
        for parent in parents:
            downstream.setdefault(parent, []).append(node)
    seen = set(roots)
    stack = list(seen)
    while stack:
        for child in downstream.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen
