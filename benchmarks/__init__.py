"""Benchmarks: what the orchestrator costs on top of Dask, measured against it in one run.

Run ``python -m benchmarks --help``; ``README.md`` has the latest table. Layout:

    bodies      the trivial task bodies every side calls
    workloads   each workload as a DAG flow, a @flow function, raw Dask and a plain loop
    runners     sequential / dask-threads / dask-procs: clusters started once per runner
    harness     alternating repetitions, timing, result checks
    memory      peak RSS growth of this process during a run
    traffic     bytes Dask delivers to the clients of this process
    scenarios   no-cluster scenarios: building a 10,000-task flow, importing ``workers``
    plan        which groups a run measures (full, --quick, or narrowed by options)
    report      rows, table, JSON and --compare
    targets     the issue-5 targets, checked against the rows
    cli         the command line

Not collected by pytest (``--ignore=benchmarks``); ``tests/test_benchmarks_smoke.py``
runs a tiny ``--quick`` to keep it working. Nothing here asserts on timings.

Every benchmark process writes its run journal to a temporary ``ORCHESTRATOR_HOME``
(removed at exit), never to the user's ``~/.orchestrator``; ``benchmarks.journal``
measures the journal itself (on against off).
"""

import atexit
import os
import shutil
import tempfile

if "ORCHESTRATOR_HOME" not in os.environ:  # spawned workers inherit the parent's
    _HOME = tempfile.mkdtemp(prefix="orchestrator-benchmark-home-")
    os.environ["ORCHESTRATOR_HOME"] = _HOME
    atexit.register(shutil.rmtree, _HOME, True)
