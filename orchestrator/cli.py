"""The ``orchestrator`` command: run a flow from a file and show its task states."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.flow import Flow


def load_flow(spec: str) -> Any:
    """The flow named by ``PATH.py[:NAME]``; with no name, the only flow in the file."""
    path_text, _, name = spec.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise SystemExit(f"orchestrator: no such file {path_text!r}")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    module_spec.loader.exec_module(module)
    if name:
        if not hasattr(module, name):
            raise SystemExit(f"orchestrator: {path_text} has no flow named {name!r}")
        return getattr(module, name)
    flows = {k: v for k, v in vars(module).items() if isinstance(v, Flow) or getattr(v, "is_flow", False)}
    if len(flows) != 1:
        found = ", ".join(sorted(flows)) or "none"
        raise SystemExit(f"orchestrator: {path_text} defines {len(flows)} flows ({found}); "
                         f"name one as {path_text}:NAME")
    return next(iter(flows.values()))


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``name=value`` pairs; values are JSON when they parse, strings otherwise."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"orchestrator: --param expects name=value, got {item!r}")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    return params


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a flow from a Python file",
                              epilog="example: orchestrator run examples/mapreduce.py --param regions=8")
    run.add_argument("target", help="PATH.py or PATH.py:FLOW")
    run.add_argument("--param", action="append", default=[], help="name=value (JSON or text)")
    args = parser.parse_args(argv)
    flow = load_flow(args.target)
    state = flow.run(parameters=parse_params(args.param))
    for task, task_state in sorted(state.result().items(), key=lambda kv: kv[0].name):
        print(f"{task.name:30} {task_state!r}")
    print(f"Flow {flow.name!r}: {state!r}")
    return 0 if state.is_successful() else 1


if __name__ == "__main__":
    raise SystemExit(main())
