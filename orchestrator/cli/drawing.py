"""``orchestrator visualize``: draw a flow's DAG to an image file with Graphviz.

With ``--run`` the flow runs first (in-process, with the given parameters) and
the picture is coloured by each task's final state.
"""

from __future__ import annotations

import argparse
import re

from orchestrator.cli.loading import CommandError, load_flow
from orchestrator.cli.params import check_flow_params, collect_params
from orchestrator.visualize import visualize


def visualize_command(args: argparse.Namespace) -> int:
    """Load the flow, optionally run it, write the picture; returns the exit status."""
    loaded = load_flow(args.target)
    if not loaded.is_dag:
        raise CommandError(
            f"{args.target} is an @flow function, whose task runs are only known "
            "while it runs; visualize draws Flow objects (with Flow(...) as flow:)."
        )
    state = None
    if args.run:
        params = collect_params(args.param, args.params_file)
        check_flow_params(loaded, params)
        state = loaded.obj.run(parameters=params)
    output = args.output or f"{_file_name(loaded.name)}.svg"
    visualize(loaded.obj, flow_state=state, filename=output)
    print(f"Wrote {output} ({len(loaded.obj.tasks)} tasks, {len(loaded.obj.edges)} edges)")
    return 0


def _file_name(flow_name: str) -> str:
    """``Map Reduce`` -> ``map-reduce``."""
    return re.sub(r"[^a-z0-9]+", "-", flow_name.lower()).strip("-") or "flow"
