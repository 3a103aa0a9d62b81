"""Groups being gathered: task runs of any tasks that go to Dask as one ``run_group`` task.

A ``Group`` collects task runs in submission order (``coalescing`` decides which); each
member's ``RunPlan`` is made as it joins, so its upstream refs point at what exists
*now*: an earlier member of this group by position (the group's own states, see
``taskrun.dask.groups``), or a Dask task already submitted, or a final state. So a
chain's links read each other inside one Dask task, and a fan-out's calls share one,
and every member keeps its own handle, state and summary:

    add(call)   -> plan with pointers: (own, j) for member j, (i, j) for member j of
                   the upstream Dask task i, i for a state or a single upstream run
    close()     -> one ``Submitted`` of ``run_group``, its handles by position

No Dask imports (Dask tasks go out through the submitter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask.arguments import Arguments, Slicer
from orchestrator.task_runners.dask.handles import DaskHandle, Submitted
from orchestrator.task_runners.dask.keys import group_key
from taskrun.dask import groups as dask_groups
from taskrun.dask.shipping import Pointer, RunPlan, Shipped
from taskrun.wire import TaskRunCall

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.shipping import Shipment
    from orchestrator.task_runners.dask.submit import Submitter


class GroupArguments(Arguments):
    """A group's ``args``: as ``Arguments``, plus the group's own states (one argument,
    ``own``) for pointers at earlier members."""

    __slots__ = ("members", "own")

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        #: id(handle) -> its position in the group
        self.members: dict[int, int] = {}
        #: the argument standing for the group's own states (added on first use)
        self.own: int | None = None

    def pointers(self, handles: Sequence[DaskHandle]) -> tuple[Pointer, ...]:
        members = self.members
        if not members or not any(id(h) in members for h in handles):
            return super().pointers(handles)
        found: list[Pointer] = []
        outside: list[DaskHandle] = []
        run: list[int] = []  # [start, stop) of consecutive members
        for handle in handles:
            position = members.get(id(handle))
            if position is None:
                if run:
                    found.append(self._local(*run))
                    run = []
                outside.append(handle)
                continue
            if outside:
                found.extend(super().pointers(outside))
                outside = []
            if run and position == run[1]:
                run[1] += 1
                continue
            if run:
                found.append(self._local(*run))
            run = [position, position + 1]
        if run:
            found.append(self._local(*run))
        if outside:
            found.extend(super().pointers(outside))
        return tuple(found)

    def _local(self, start: int, stop: int) -> Pointer:
        if self.own is None:
            self.own = self.add(None)  # a placeholder: the worker puts the states there
        return (self.own, start) if stop == start + 1 else (self.own, start, stop)


class Group:
    """Task runs gathered for one ``run_group`` Dask task (see the module docstring)."""

    def __init__(self, submitter: Submitter, limit: int) -> None:
        self.submitter, self.limit = submitter, limit
        self.arguments = GroupArguments(submitter.session)
        self.slicer = Slicer(submitter, 1)
        self.handles: list[DaskHandle] = []
        self.plans: list[RunPlan] = []
        self.task_ids: list[Any] = []
        self.indexes: list[int] = []
        self.tasks: list[Shipped] = []
        self._task_index: dict[int, int] = {}
        self.context: Shipped | None = None
        self.options: dict[str, Any] = {}
        self.token = ""
        #: the members' expected seconds, in all
        self.seconds = 0.0

    def __len__(self) -> int:
        return len(self.handles)

    def takes(self, shipped: Shipment) -> bool:
        """Whether a run of this shipment may join: the same flow-run context and the same
        Dask options (resources), or the group is empty."""
        if not self.handles:
            return True
        return shipped[1] is self.context and shipped[3] == self.options

    def reads(self, call: TaskRunCall) -> bool:
        """Whether ``call`` reads a member of this group."""
        members = self.arguments.members
        return bool(members) and any(
            id(handle) in members for ref in call.upstream for handle in ref.sources
        )

    def add(
        self, call: TaskRunCall, handle: DaskHandle, shipped: Shipment, task_id: Any, seconds: float
    ) -> None:
        task_shipped, context, token, options = shipped
        if not self.handles:
            self.context, self.options, self.token = context, options, token
        position = len(self.handles)
        plan = self.submitter.plan(call, "", position, self.arguments, self.slicer, self.limit)
        index = self._task_index.get(id(task_shipped))
        if index is None:
            index = self._task_index[id(task_shipped)] = len(self.tasks)
            self.tasks.append(task_shipped)
        handle.position = position
        self.arguments.members[id(handle)] = position
        self.handles.append(handle)
        self.plans.append(plan)
        self.task_ids.append(task_id)
        self.indexes.append(index)
        self.seconds += seconds

    def close(self) -> tuple[Submitted, Arguments]:
        """The group as one ``Submitted`` Dask task (not sent yet)."""
        session = self.submitter.session
        first = self.handles[0].name
        key = session.unique_key(group_key(first, len(self.handles), self.token))
        plans = dask_groups.GroupPlan(
            key,
            self.arguments.own,
            tuple(self.indexes),
            tuple(tuple(plan._replace(key=key)) for plan in self.plans),
        )
        assert self.context is not None
        submitted = Submitted(
            key,
            dask_groups.run_group,
            (tuple(self.tasks), self.context, session.channel, plans),
            self.arguments.sources,
            None,
            self.options,
        )
        submitted.task_ids = tuple(self.task_ids)
        submitted.handles = self.handles
        for handle in self.handles:
            handle.submitted = submitted
        return submitted, self.arguments
