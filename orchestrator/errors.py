"""Exceptions the orchestrator raises.

``OrchestratorError`` is the root. "Your flow is wrong" errors (definition,
parameters) derive from ``ValueError`` too, so ordinary ``except ValueError``
code keeps working; each carries structured fields and builds its text in
``__str__``, and each pickles (they cross process boundaries).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taskrun.transitions import InvalidTransitionError as InvalidTransitionError


def _shown(names: Sequence[str], limit: int = 10) -> str:
    """Sorted names, the first ``limit`` of them, then "and N more"."""
    ordered = sorted(names)
    text = ", ".join(repr(n) for n in ordered[:limit])
    return text + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


class OrchestratorError(Exception):
    """Root of the orchestrator's own exceptions."""


class TaskDefinitionError(OrchestratorError, ValueError):
    """A task's signature or options cannot work; raised when the task is created."""

    def __init__(self, task_name: str, problem: str, fix: str) -> None:
        super().__init__(task_name, problem, fix)
        self.task_name, self.problem, self.fix = task_name, problem, fix

    def __str__(self) -> str:
        return f"Task {self.task_name!r}: {self.problem} {self.fix}"


class FlowDefinitionError(OrchestratorError, ValueError):
    """The flow's DAG is invalid (a cycle, an edge to an unknown task, a duplicate name)."""

    def __init__(self, flow_name: str, problem: str, fix: str = "") -> None:
        super().__init__(flow_name, problem, fix)
        self.flow_name, self.problem, self.fix = flow_name, problem, fix

    def __str__(self) -> str:
        return f"Flow {self.flow_name!r}: {self.problem}" + (f" {self.fix}" if self.fix else "")


class CycleError(FlowDefinitionError):
    """The flow's edges form a cycle; ``cycle`` lists task names, first repeated last."""

    def __init__(self, flow_name: str, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        problem = "its tasks form a cycle: " + " -> ".join(self.cycle) + "."
        super().__init__(flow_name, problem, "Remove one of these edges so the flow is a DAG.")
        self.args = (flow_name, self.cycle)

    def __reduce__(self) -> tuple[object, ...]:
        return (CycleError, (self.flow_name, self.cycle))


class ParameterError(OrchestratorError, ValueError):
    """Flow parameters do not match the flow's ``Parameter`` tasks."""

    def __init__(
        self,
        flow_name: str,
        missing: Sequence[str] = (),
        unknown: Sequence[str] = (),
        known: Sequence[str] = (),
    ) -> None:
        super().__init__(flow_name, list(missing), list(unknown), list(known))
        self.flow_name, self.missing, self.unknown, self.known = (
            flow_name,
            list(missing),
            list(unknown),
            list(known),
        )

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing required parameters {_shown(self.missing)}")
        if self.unknown:
            parts.append(f"unknown parameters {_shown(self.unknown)}")
        known = _shown(self.known) if self.known else "none"
        return (
            f"Flow {self.flow_name!r}: "
            + "; ".join(parts)
            + "."
            + _did_you_mean(self.unknown, self.known)
            + f" The flow's parameters are: {known}; pass them as parameters={{name: value}}."
        )


def _did_you_mean(unknown: Sequence[str], known: Sequence[str]) -> str:
    """`` Did you mean 'limit' (for 'limt')?`` for each unknown name with a near known one."""
    pairs = []
    for name in sorted(unknown):
        near = difflib.get_close_matches(name, known, n=1)
        if near:
            pairs.append(f"{near[0]!r} (for {name!r})" if len(unknown) > 1 else repr(near[0]))
    return f" Did you mean {', '.join(pairs)}?" if pairs else ""


class RunOptionError(OrchestratorError, TypeError, ValueError):
    """An option of a flow run (``parameters=``, ``task_runner=``, ``task_states=``, an
    unknown keyword, ...) cannot work; raised before anything runs. ``option`` names it.

    A wrong type or a wrong value, so both ``except TypeError`` and ``except ValueError``
    catch it (Python raises ``TypeError`` for an unknown keyword argument).
    """

    def __init__(self, flow_name: str, option: str, problem: str, fix: str) -> None:
        super().__init__(flow_name, option, problem, fix)
        self.flow_name, self.option, self.problem, self.fix = flow_name, option, problem, fix

    def __str__(self) -> str:
        return f"Flow {self.flow_name!r}: {self.problem} {self.fix}"


class UnguardedMainError(OrchestratorError, RuntimeError):
    """A process-based ``LocalCluster`` would start from a script's unguarded top-level code."""

    def __init__(self, path: str, line: int = 0, code: str = "") -> None:
        super().__init__(path, line, code)
        self.path, self.line, self.code = path, line, code

    def __str__(self) -> str:
        name = Path(self.path).name
        where = f"{name}, line {self.line}" if self.line else name
        call = self.code or "state = flow.run(task_runner=DaskTaskRunner())"
        return (
            f"DaskTaskRunner: {where} starts a flow run at the top level of the script, "
            'outside an `if __name__ == "__main__":` block. The LocalCluster\'s worker '
            f"processes each import {name} again, so each would run the flow and start a "
            "cluster of its own. Put the run under the guard:\n\n"
            '    if __name__ == "__main__":\n'
            f"        {call}\n\n"
            f"or delete that line and run the file with `orchestrator run {name} "
            "--local-cluster`, or keep the workers in this process: "
            'DaskTaskRunner(cluster_kwargs={"processes": False}).'
        )

    def __repr__(self) -> str:
        where = f"{Path(self.path).name}, line {self.line}" if self.line else Path(self.path).name
        return f"UnguardedMainError({where}: run the flow under `if __name__ == '__main__':`)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (UnguardedMainError, (self.path, self.line, self.code))
