"""``python -m orchestrator ...``: the same as the ``orchestrator`` command (as ``python -m
pip`` is for pip), handy where the console script is not on PATH."""

from orchestrator.cli import main

raise SystemExit(main())
