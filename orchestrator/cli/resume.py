"""``orchestrator resume RUN_ID [--task NAME]``: resume a paused task of an earlier run.

The journal remembers the flow file ``orchestrator run`` ran; ``--file PATH.py[:FLOW]``
names it for a run started otherwise (``python flow.py``) or a file that moved. The
resumed run is that run's next attempt (same id): the paused task gets ``Resume``, its
upstream tasks' persisted results are read back, and it and its downstream tasks run
(``orchestrator.journal.paused``). An ``@flow`` function's run resumes as its
``main.run(params, resume=RUN_ID, resume_task=NAME)`` does: calls whose results persisted
are reused, the paused call starts from ``Resume``, the rest run; its parameters are the
run's (as the journal kept them) unless ``--param``/``--params-file`` give them. Exit
status as for ``orchestrator run``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console

from orchestrator.cli.loading import CommandError, load_flow
from orchestrator.cli.params import check_flow_params, collect_params, param_texts
from orchestrator.cli.running import exit_status, source_of
from orchestrator.journal import SQLiteJournal
from orchestrator.journal.paused import resume_paused
from orchestrator.journal.settings import flow_source
from orchestrator.progress import ProgressDisplay


def resume_command(args: argparse.Namespace) -> int:
    """Find the run and its flow, resume the task; returns the exit status."""
    journal = SQLiteJournal()
    try:
        run = journal.find_run(args.run_id)
        target = args.file or run.source
        if target is None:
            raise CommandError(
                f"flow run {run.id} of flow {run.flow_name!r} was not started by "
                "'orchestrator run', so the journal does not know its file: pass "
                "--file PATH.py[:FLOW]"
            )
        if args.file is None and not Path(target.partition(":")[0]).is_file():
            raise CommandError(
                f"flow run {run.id} was run from {target}, which is gone: pass "
                "--file PATH.py[:FLOW] with the flow's file"
            )
        loaded = load_flow(target)
        if args.quiet:
            logging.getLogger("orchestrator").setLevel(logging.WARNING)
        progress = False if args.quiet else ProgressDisplay(console=Console())
        with flow_source(source_of(loaded.path, loaded.variable)):
            if loaded.is_dag:
                state = resume_paused(loaded.obj, run.id, args.task, journal, progress=progress)
            else:
                given = collect_params(args.param, args.params_file) or dict(run.parameters)
                params = check_flow_params(loaded, given, param_texts(args.param))
                task = args.task or "*"
                state = loaded.obj.run(params, resume=run.id, resume_task=task, progress=progress)
        if args.quiet:
            print(f"Flow {loaded.name!r} finished in state {state!r}")
        return exit_status(state)
    finally:
        journal.close()
