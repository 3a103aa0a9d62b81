"""The main-module guard: refuse to start worker processes from a script's unguarded code.

A ``LocalCluster`` with worker processes starts them with ``spawn`` (Dask's default), and
each new process first re-imports the script that is running as ``__main__``. A script
that runs its flow at module level, outside ``if __name__ == "__main__":``, therefore
runs it again in every worker process, each of which tries to start a cluster of its own:
hundreds of lines of multiprocessing errors, and no flow run.

``check_main_guard`` sees this before any process starts: ``__main__`` is a file that
worker processes will re-import, the main thread is running that file's top-level code,
and the line it is at is not inside an ``if __name__ ...:`` block. It raises
``UnguardedMainError``, which says how to guard the run. In a spawned process still
importing the main module (the case the parent could not see, such as a script without
source), it raises the same error rather than multiprocessing's.
"""

from __future__ import annotations

import ast
import linecache
import multiprocessing
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from orchestrator.errors import UnguardedMainError

#: start methods whose new processes re-import the main module first
REIMPORTING_METHODS = ("spawn", "forkserver")


@dataclass(frozen=True)
class UnguardedCall:
    """Where a script's unguarded top-level code starts a process-based cluster."""

    path: str
    line: int
    code: str


def check_main_guard(cluster_class: Any, cluster_kwargs: Mapping[str, Any]) -> None:
    """Raise ``UnguardedMainError`` if starting ``cluster_class(**cluster_kwargs)`` now would
    start worker processes that re-run the script's top-level code (see the module doc)."""
    if not _starts_worker_processes(cluster_class, cluster_kwargs):
        return
    if not _start_method_reimports_main():
        return
    if _importing_main_in_child():
        raise _child_error()
    main = sys.modules.get("__main__")
    path = reimported_main_path(main)
    if path is None:
        return
    found = unguarded_call(main, path)
    if found is not None:
        raise UnguardedMainError(found.path, found.line, found.code)


def reimported_main_path(main: ModuleType | None) -> str | None:
    """The file a spawned process re-imports as the main module, as multiprocessing decides;
    None when it imports none (an interactive session, a notebook, ``python -c``, a
    package's ``__main__``)."""
    if main is None:
        return None
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return None
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return None
    if Path(path).stem == "ipython":
        return None
    return os.path.abspath(path)


def unguarded_call(main: Any, path: str) -> UnguardedCall | None:
    """The statement of ``path`` whose top-level code the main thread runs now, if it is not
    under an ``if __name__ ...:``; None when the main thread runs none (or the source
    cannot be read)."""
    frame = _main_thread_frame()
    line = None
    while frame is not None:  # the outermost frame of the main module's own code
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return None
    try:
        source = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(source, filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    statements = statements_at(tree, line)
    if not statements or is_guarded(statements):
        return None
    innermost = statements[-1]
    code = (ast.get_source_segment(source, innermost) or "").splitlines()
    return UnguardedCall(path, innermost.lineno, code[0].strip() if code else "")


def statements_at(tree: ast.Module, line: int) -> list[ast.stmt]:
    """The statements that hold ``line``, outermost first.

    >>> tree = ast.parse("x = 1\\nif __name__ == '__main__':\\n    run()\\n")
    >>> [type(s).__name__ for s in statements_at(tree, 3)]
    ['If', 'Expr']
    """
    found: list[ast.stmt] = []
    body: list[ast.stmt] = list(tree.body)
    while True:
        statement = next((s for s in body if _spans(s, line)), None)
        if statement is None:
            return found
        found.append(statement)
        body = list(_children(statement))


def is_guarded(statements: list[ast.stmt]) -> bool:
    """Whether one of ``statements`` is an ``if`` whose test reads ``__name__``."""
    return any(isinstance(s, ast.If) and _reads_name(s.test) for s in statements)


def _children(statement: ast.stmt) -> list[ast.stmt]:
    children: list[ast.stmt] = []
    for field in ("body", "orelse", "finalbody"):
        children += [s for s in getattr(statement, field, []) if isinstance(s, ast.stmt)]
    for part in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]:
        children += part.body  # except blocks, match cases
    return children


def _spans(statement: ast.stmt, line: int) -> bool:
    end = statement.end_lineno or statement.lineno
    return statement.lineno <= line <= end


def _reads_name(test: ast.expr) -> bool:
    return any(isinstance(node, ast.Name) and node.id == "__name__" for node in ast.walk(test))


def _main_thread_frame() -> FrameType | None:
    if threading.current_thread() is threading.main_thread():
        return sys._getframe(1)
    return sys._current_frames().get(threading.main_thread().ident or -1)


def _child_error() -> UnguardedMainError:
    """The error in a spawned process, pointing at the line of the main module it re-runs
    (multiprocessing runs it as ``__mp_main__``)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            path, line = frame.f_code.co_filename, frame.f_lineno
            return UnguardedMainError(path, line, linecache.getline(path, line).strip())
        frame = frame.f_back
    return UnguardedMainError("the main module")


def _importing_main_in_child() -> bool:
    """A spawned process still bootstrapping: importing the parent's main module (the flag
    multiprocessing itself reads to refuse starting processes then)."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _starts_worker_processes(cluster_class: Any, cluster_kwargs: Mapping[str, Any]) -> bool:
    from distributed import LocalCluster, Nanny

    if not (isinstance(cluster_class, type) and issubclass(cluster_class, LocalCluster)):
        return False
    processes = cluster_kwargs.get("processes")
    if processes is None:  # LocalCluster's own default
        worker_class = cluster_kwargs.get("worker_class")
        return worker_class is None or (
            isinstance(worker_class, type) and issubclass(worker_class, Nanny)
        )
    return bool(processes)


def _start_method_reimports_main() -> bool:
    import dask

    method = dask.config.get("distributed.worker.multiprocessing-method", default="spawn")
    return method in REIMPORTING_METHODS
