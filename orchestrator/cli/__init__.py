"""The ``orchestrator`` command: run flows from files and draw them.

    loading.py   find the flow a PATH.py[:FLOW] names
    params.py    --param / --params-file parsing and checking
    running.py   orchestrator run
    drawing.py   orchestrator visualize
    runs.py      orchestrator runs [show RUN_ID]   (the run journal's history)
    cancel.py    orchestrator cancel RUN_ID
    resume.py    orchestrator resume RUN_ID --task NAME   (a paused task, from any process)

Exit status: 0 success, 1 the flow failed, 2 the command could not start
(bad arguments, file, flow or parameters), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from orchestrator import __version__
from orchestrator.cli.cancel import cancel_command
from orchestrator.cli.drawing import visualize_command
from orchestrator.cli.loading import CommandError, load_flow
from orchestrator.cli.resume import resume_command
from orchestrator.cli.running import EXIT_USAGE, run_command
from orchestrator.cli.runs import runs_command
from orchestrator.dag.parameter_types import ParameterTypeError
from orchestrator.errors import OrchestratorError, ParameterError

__all__ = ["CommandError", "build_parser", "load_flow", "main"]

_RUN_EXAMPLES = """\
examples:
  orchestrator run examples/mapreduce.py
  orchestrator run examples/mapreduce.py --param regions=8 --param orders_per_region=500
  orchestrator run examples/mapreduce.py --local-cluster --workers 2
  orchestrator run flows.py:nightly --address tcp://scheduler:8786 --params-file params.json

Parameter values are JSON when they parse (8, true, ["a","b"]) and text otherwise,
then converted to the type the flow declares (n: int takes --param n=8, refuses n=abc).
Exit status: 0 success (or paused), 1 the flow failed, 2 it could not start."""

_VISUALIZE_EXAMPLES = """\
examples:
  orchestrator visualize examples/mapreduce.py -o mapreduce.svg
  orchestrator visualize examples/mapreduce.py --run -o mapreduce-states.png

Needs the graphviz package (pip install 'orchestrator[viz]') and Graphviz's 'dot' program."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``orchestrator`` command."""
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run flows of tasks in-process or on Dask, and draw them.",
        epilog="examples:\n  orchestrator run examples/mapreduce.py\n"
        "  orchestrator visualize examples/mapreduce.py -o flow.svg\n\n"
        "Run 'orchestrator COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(commands)
    _add_visualize(commands)
    _add_runs(commands)
    _add_cancel(commands)
    _add_resume(commands)
    return parser


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run a flow from a Python file",
        description="Run a flow with a live progress display.",
        epilog=_RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target(run)
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--address",
        metavar="ADDRESS",
        help="run on the Dask scheduler at ADDRESS (e.g. tcp://127.0.0.1:8786)",
    )
    where.add_argument(
        "--local-cluster",
        action="store_true",
        help="run on a Dask LocalCluster started for this run",
    )
    run.add_argument("--workers", type=int, metavar="N", help="workers of --local-cluster")
    run.add_argument(
        "--connect-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for the scheduler at --address (default 20)",
    )
    _add_params(run)
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress display or info logs; print only the final state",
    )
    run.add_argument(
        "--no-journal",
        action="store_true",
        help="keep this run out of the run journal (orchestrator runs)",
    )
    run.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="the next attempt of a journalled run of this flow, or last: persisted "
        "results are re-used, the rest runs again",
    )
    run.set_defaults(handler=run_command)


#: what RUN_ID may be, for ``runs show`` and ``cancel``
_RUN_ID_HELP = "a run id (or a unique start of it), a run name, or last"


def _add_runs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = commands.add_parser(
        "runs",
        help="list recent flow runs from the run journal",
        description="The latest flow runs recorded in $ORCHESTRATOR_HOME/runs.db.",
        epilog="examples:\n  orchestrator runs\n  orchestrator runs show last\n"
        "  orchestrator runs show 3f2a --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="runs to list (20)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    shown = runs.add_subparsers(dest="runs_command", metavar="show")
    show = shown.add_parser("show", help="one run, task by task")
    show.add_argument("run_id", metavar="RUN_ID", help=_RUN_ID_HELP)
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(handler=runs_command)


def _add_cancel(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cancel = commands.add_parser(
        "cancel",
        help="cancel a flow run that is still going (in any process)",
        description="Ask the orchestrator running a flow run to cancel it.",
    )
    cancel.add_argument("run_id", metavar="RUN_ID", help=_RUN_ID_HELP)
    cancel.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=30.0,
        metavar="SECONDS",
        help="wait until the run has ended (default 30 seconds)",
    )
    cancel.set_defaults(handler=cancel_command)


def _add_resume(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = commands.add_parser(
        "resume",
        help="resume a paused task (manual_only, PAUSE) of an earlier flow run",
        description="Run the next attempt of a paused flow run: the paused task runs, "
        "its upstream tasks' persisted results are read back.",
        epilog="examples:\n  orchestrator resume last --task publish\n"
        "  orchestrator resume 3f2a --task publish --file flows.py:nightly",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    resume.add_argument("run_id", metavar="RUN_ID", help=_RUN_ID_HELP)
    resume.add_argument(
        "--task",
        action="append",
        metavar="NAME",
        help="the paused task to resume (repeatable; default: the run's only paused one)",
    )
    resume.add_argument(
        "--file",
        metavar="PATH.py[:FLOW]",
        help="the flow's file (default: the one 'orchestrator run' ran, from the journal)",
    )
    resume.add_argument(
        "-q", "--quiet", action="store_true", help="no progress display; print the final state"
    )
    _add_params(resume)  # an @flow function's parameters (default: the run's, from the journal)
    resume.set_defaults(handler=resume_command)


def _add_visualize(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    draw = commands.add_parser(
        "visualize",
        help="draw a flow's DAG with Graphviz",
        description="Draw a flow's DAG: one node per task, edges labelled "
        "with the argument they feed, mapped tasks stacked.",
        epilog=_VISUALIZE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target(draw)
    draw.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="image file; its ending picks the format: .svg (default), .png, .pdf, .dot",
    )
    draw.add_argument(
        "--run",
        action="store_true",
        help="run the flow in-process first and colour tasks by their final state",
    )
    _add_params(draw)
    draw.set_defaults(handler=visualize_command)


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="PATH.py[:FLOW]",
        help="a Python file and, if it holds several flows, the variable of one",
    )


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter (repeatable); VALUE is JSON or text",
    )
    parser.add_argument(
        "--params-file",
        metavar="FILE",
        help="a JSON object of parameters; --param values override it",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``orchestrator`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except ParameterTypeError as err:
        fix = f"pass --param {err.parameter}=VALUE with a VALUE of type {err.expected}"
        _error(f"{err}\nOn the command line, {fix}.")
    except ParameterError as err:
        _error(f"{err}\nOn the command line, pass parameters as --param NAME=VALUE.")
    except (CommandError, OrchestratorError) as err:
        _error(str(err))
    except KeyboardInterrupt:
        print("orchestrator: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


def _error(message: str) -> None:
    print(f"orchestrator: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
