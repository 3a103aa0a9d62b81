"""Groups: several task runs of any tasks in one Dask task, later ones reading earlier ones.

Dask pays a millisecond or two per task; a short task run's work is far less. So the Dask
runner gathers task runs that are ready together -- independent calls of a fan-out, the
links of a chain -- into one ``run_group`` Dask task (``GroupPlan``): each one still its
own task run, with its own state, retries, logs and summary, exactly as ``run_one`` would
run it. A plan may read the state of an *earlier* plan of the same group: the group's own
states are one more argument (``GroupPlan.own``), so a pointer ``(own, j)`` is member
``j``, just as ``(i, j)`` is member ``j`` of an upstream batch::

    run_group(tasks, context, channel, plans, args)     args[own] = the states so far
    plan 0: add_one(x=3)            -> states[0]
    plan 1: add_one(x=<(own, 0)>)   -> states[1]        reads plan 0's state
    plan 2: total(<(1, 0, 50)>)     -> states[2]        reads an upstream group

A plan whose earlier member waits for a retry (its attempt comes back ``Waiting``) is
deferred: it comes back ``Waiting`` too, due when that member is, and starts once every
member it reads is final (``resume_group``). The value Dask keeps is a ``StateBatch``, so
downstream Dask tasks and the orchestrator read a member by position as they read a
batch's children.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any, cast

from distributed import get_worker

from taskrun.dask import entry
from taskrun.dask.outbox import Outbox, active_run, outbox_for
from taskrun.dask.retry_waits import Waiting, run_waiting
from taskrun.dask.sealing import Channel
from taskrun.dask.shipping import RunPlan, Shipped
from taskrun.dask.sizes import StateBatch
from taskrun.logs import stamp_logger, task_logger
from taskrun.states import State


class GroupPlan:
    """The plans of one group, each with the index of its task among the shipped tasks.

    Opaque to Dask (not a tuple or list), so Dask does not search it for futures.
    """

    __slots__ = ("key", "own", "plans", "tasks")

    def __init__(
        self,
        key: str,
        own: int | None,
        tasks: tuple[int, ...],
        plans: tuple[tuple[Any, ...], ...],
    ) -> None:
        self.key = key
        #: the argument that stands for the group's own states (None: no plan reads one)
        self.own = own
        #: per plan, the index of its task in the shipped tasks
        self.tasks = tasks
        #: ``RunPlan`` plain tuples, position ``j`` for plan ``j``
        self.plans = plans

    def rekeyed(self, key: str) -> GroupPlan:
        plans = tuple(RunPlan._make(p)._replace(key=key) for p in self.plans)
        return GroupPlan(key, self.own, self.tasks, tuple(tuple(p) for p in plans))

    def __iter__(self) -> Iterator[RunPlan]:
        return (RunPlan._make(plan) for plan in self.plans)

    def __len__(self) -> int:
        return len(self.plans)

    def __reduce__(self) -> tuple[Any, ...]:
        return (GroupPlan, (self.key, self.own, self.tasks, self.plans))

    def __repr__(self) -> str:
        return f"<GroupPlan {self.key}: {len(self.plans)} task runs>"


async def run_group(
    tasks: tuple[Shipped, ...],
    run_context: Shipped,
    channel: Channel,
    plans: GroupPlan,
    args: Sequence[Any],
) -> StateBatch:
    """Run a group's task runs in order; returns their states (see the module docstring)."""
    worker = get_worker()
    outbox = outbox_for(worker)
    own: list[State | Waiting] = []
    start = functools.partial(
        _start_group, tasks, run_context, outbox, channel, plans, list(args), own
    )
    resume = functools.partial(resume_group, outbox, channel, own)
    return StateBatch(await run_waiting(worker, plans.key, start, resume))


def _start_group(
    shipped_tasks: tuple[Shipped, ...],
    shipped_context: Shipped,
    outbox: Outbox,
    channel: Channel,
    plans: GroupPlan,
    args: list[Any],
    own: list[State | Waiting],
) -> list[State | Waiting]:
    """The first attempts of every plan, in order (worker thread); ``own`` fills up as
    they end, and later plans read it."""
    try:
        keys = shipped_context.load()
    except Exception as err:  # boundary: the task runs fail, saying why; the worker goes on
        own.extend(entry.not_loaded(plan, err, outbox, channel) for plan in plans)
        return own
    args = [entry.readable(arg) for arg in args]  # once per Dask task, shared by its plans
    if plans.own is not None:
        args[plans.own] = own
    loaded: dict[int, Any] = {}
    token = active_run.set((outbox, channel))
    try:
        for position, (index, plan) in enumerate(zip(plans.tasks, plans, strict=True)):
            task = loaded.get(index)
            if task is None:
                try:
                    task = loaded[index] = shipped_tasks[index].load()
                except Exception as err:  # boundary: as above, for this plan only
                    own.append(entry.not_loaded(plan, err, outbox, channel))
                    continue
                stamp_logger(task_logger(task.name))
            waiting = _waiting_for(plan, plans.own, own)
            if waiting is not None:  # an earlier member retries later: start after it
                own.append(Waiting(position, plan, cast(Any, (task, keys, args)), waiting, 0.0))
                continue
            own.append(entry.run_plan(task, keys, plan, position, args, outbox, channel))
    finally:
        active_run.reset(token)
    return own


def resume_group(
    outbox: Outbox, channel: Channel, own: list[State | Waiting], due: list[Waiting]
) -> list[State | Waiting]:
    """The next attempts of members whose retry delay is over, and the first attempts of
    members deferred behind them (worker thread), in order of position."""
    outcomes: dict[int, State | Waiting] = {}
    for item in sorted(due, key=lambda waiting: waiting.position):
        deferred: Any = item.later
        if type(deferred) is tuple:  # deferred: its first attempt, once its reads are final
            task, keys, args = deferred
            waiting = _waiting_for(item.plan, _own_index(args, own), own)
            if waiting is not None:
                outcome: State | Waiting = item._replace(due=waiting)
            else:
                token = active_run.set((outbox, channel))
                try:
                    outcome = entry.run_plan(
                        task, keys, item.plan, item.position, args, outbox, channel
                    )
                finally:
                    active_run.reset(token)
        else:
            outcome = entry.resume_plans(outbox, channel, [item])[0]
        own[item.position] = outcomes[item.position] = outcome
    return [outcomes[item.position] for item in due]


def _own_index(args: list[Any], own: list[Any]) -> int | None:
    """Which argument is the group's own states (the list object itself)."""
    for index, arg in enumerate(args):
        if arg is own:
            return index
    return None


def _waiting_for(plan: RunPlan, own_index: int | None, own: list[Any]) -> float | None:
    """When the latest earlier member this plan reads is due, if any of them waits."""
    if own_index is None:
        return None
    due = None
    for ref in plan.refs:
        for pointer in ref[1]:
            if isinstance(pointer, int) or pointer[0] != own_index:
                continue
            stop = pointer[1] + 1 if len(pointer) == 2 else pointer[2]
            for member in own[pointer[1] : stop]:
                if type(member) is Waiting:
                    due = member.due if due is None else max(due, member.due)
    return due
