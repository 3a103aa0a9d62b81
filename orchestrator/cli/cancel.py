"""``orchestrator cancel RUN_ID``: stop a flow run that another process is running.

The request is a row in the run journal; the orchestrator running the flow looks for
one about once a second, then stops submitting, cancels what has not finished (on
Dask, on the scheduler) and records the run ``Cancelled``. ``--wait`` waits until the
journal shows the run over. A run started with the journal off (``--no-journal``) is not
in it and cannot be cancelled this way. Exit status: 0 asked (or, with --wait, cancelled), 1 the run
was over already (or did not end within --wait), 2 no such run or no usable journal.
"""

from __future__ import annotations

import argparse
import time

from orchestrator.journal import SQLiteJournal, cancel_flow_run


def cancel_command(args: argparse.Namespace) -> int:
    """Ask the run to cancel; returns the exit status."""
    journal = SQLiteJournal()
    try:
        run = journal.find_run(args.run_id)
        if run.ended is not None:
            print(
                f"Flow run {run.id} of flow {run.flow_name!r} is over already "
                f"({run.state.kind}); nothing to cancel."
            )
            return 1
        cancel_flow_run(run.id, journal)
        print(
            f"Asked flow run {run.id} of flow {run.flow_name!r} (running on {run.runner}) "
            "to cancel; it stops within about a second."
        )
        if args.wait is None:
            return 0
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            now = journal.find_run(run.id)
            if now.ended is not None:
                print(f"Flow run {run.id} ended {now.state.kind}: {now.state.message}")
                return 0 if now.state.kind == "Cancelled" else 1
            time.sleep(0.2)
        print(
            f"Flow run {run.id} has not ended after {args.wait:g} seconds; its orchestrator "
            "may be busy or gone ('orchestrator runs show' tells what the journal holds)."
        )
        return 1
    finally:
        journal.close()
