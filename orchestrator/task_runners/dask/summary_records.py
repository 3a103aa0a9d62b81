"""The journal's record of a Dask task run, read from the worker's final summary.

The run journal writes a record per task run (``journal.records.state_record`` of its
state); a 100,000-child map on Dask writes 100,000. The summary that came from the worker
already says everything a record holds, so ``DaskTaskRunner.final_record`` reads it from
there instead of building each state first (the state is built when someone asks for it).
"""

from __future__ import annotations

from orchestrator.journal.records import TEXT_LIMIT, StateRecord, cut_text
from taskrun.dask.record_states import state_class
from taskrun.dask.records import ON_WORKER, FinalRecord
from taskrun.states import FAILED


def summary_record(summary: FinalRecord) -> StateRecord:
    """The record of the state a Dask worker's final summary describes, read from the
    summary alone: what ``state_record(state_from_record(summary))`` gives (times to the
    microsecond), without building the state (a 100,000-child map writes 100,000)."""
    kind = state_class(summary.state_class)
    stamp, duration, blob = summary.timestamp, summary.duration, summary.result_blob
    extras = summary.extras or {}
    location = extras.get("location") if blob is not None else None
    error = None
    if kind.kind in FAILED and blob is not None:
        text = extras.get("text") if blob != ON_WORKER else None
        name = summary.result_type
        if type(text) is str:
            error = cut_text(f"{name}: {text}")
        elif name != "object":
            error = name
    message = summary.message
    return StateRecord(
        kind.__name__,
        message if message is None or len(message) <= TEXT_LIMIT else cut_text(message),
        stamp,
        stamp - duration if duration is not None else None,
        duration,
        summary.run_count,
        location if type(location) is str else None,
        error,
    )
