"""Entry point of ``python -m benchmarks`` (see ``benchmarks.cli``).

The guard matters: Dask's worker processes are spawned and import this module as
``__mp_main__``; they must not start a benchmark of their own.
"""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    from benchmarks.cli import main

    sys.exit(main())
