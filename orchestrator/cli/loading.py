"""Finding the flow a command line names: ``PATH.py`` or ``PATH.py:NAME``.

The file is imported as a module (its directory on ``sys.path``, so it can import
its sibling modules, but without running its ``__main__`` block) and
registered with cloudpickle to be pickled by value, so Dask workers can run its
tasks without having the file. A flow is a ``Flow`` object or an ``@flow``
function; with no ``NAME`` the file must hold exactly one.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.dag.flow import Flow

_LOADS = itertools.count(1)  # numbers module names of files that cannot use their own


class CommandError(Exception):
    """The command cannot go on; ``str()`` says why and what to do. Exit status 2."""


@dataclass(frozen=True)
class LoadedFlow:
    """A flow found in a file."""

    #: the ``Flow`` object or the ``@flow`` function
    obj: Any
    #: the variable that holds it in the file
    variable: str
    path: Path
    #: the imported file
    module: types.ModuleType

    @property
    def is_dag(self) -> bool:
        return isinstance(self.obj, Flow)

    @property
    def name(self) -> str:
        return str(getattr(self.obj, "name", self.variable))


def load_flow(target: str) -> LoadedFlow:
    """The flow ``target`` names (``PATH.py`` or ``PATH.py:NAME``).

    Raises:
        CommandError: no such file, the file fails to import (or calls ``sys.exit``), or no
            single flow matches.
    """
    path_text, _, variable = target.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise CommandError(
            f"no such file {path_text!r}. Give the path of a Python file that "
            f"defines a flow, e.g. orchestrator run examples/mapreduce.py"
        )
    module = import_file(path)
    found = find_flows(module)
    if variable:
        if variable not in vars(module):
            raise CommandError(
                f"{path_text} has no variable {variable!r}; {_listing(found, path_text)}"
            )
        if variable not in found:
            kind = type(vars(module)[variable]).__name__
            raise CommandError(
                f"{path_text}:{variable} is {kind}, "
                f"not a Flow or an @flow function; {_listing(found, path_text)}"
            )
        return LoadedFlow(found[variable], variable, path, module)
    if len(found) != 1:
        raise CommandError(f"{path_text} defines {len(found)} flows; {_listing(found, path_text)}")
    ((variable, obj),) = found.items()
    return LoadedFlow(obj, variable, path, module)


def import_file(path: Path) -> types.ModuleType:
    """Import ``path`` as a module (not as ``__main__``) and make it picklable by value."""
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"cannot import {str(path)!r}: it is not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # sibling modules import; appended, so it never shadows a module
        sys.path.append(folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as err:  # a script's sys.exit(): no traceback, and not our exit status
        del sys.modules[name]
        raise CommandError(
            f"{str(path)!r} called sys.exit({err.code!r}) while being imported, so it defines "
            "no flow to run. Move that code under `if __name__ == '__main__':` (the command "
            "imports the file without running that block)."
        ) from None
    except Exception as err:
        del sys.modules[name]
        traceback.print_exc()
        raise CommandError(
            f"importing {str(path)!r} failed with {type(err).__name__}: {err} (traceback above)"
        ) from err
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def _module_name(path: Path) -> str:
    """The file's stem, unless that would shadow a module (``numbers.py``, a second load)."""
    stem = path.stem
    if stem.isidentifier() and stem not in sys.modules:
        try:
            shadows = importlib.util.find_spec(stem) is not None
        except (ImportError, ValueError):
            shadows = True
        if not shadows:
            return stem
    return f"_orchestrator_flow_file_{next(_LOADS)}"


def find_flows(module: types.ModuleType) -> dict[str, Any]:
    """``{variable: flow}``: each ``Flow`` or ``@flow`` function in ``module`` (first name wins)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for variable, value in vars(module).items():
        if variable.startswith("_") or id(value) in seen:
            continue
        if isinstance(value, Flow) or is_flow_function(value):
            found[variable] = value
            seen.add(id(value))
    return found


def is_flow_function(value: Any) -> bool:
    """An ``@flow``-decorated function (its class marks itself ``is_flow = True``)."""
    return getattr(type(value), "is_flow", False) is True and callable(value)


def _listing(found: dict[str, Any], path_text: str) -> str:
    if not found:
        return (
            "it defines none. A flow is a Flow object (with Flow('name') as flow: ...) or a "
            "function decorated with @flow."
        )
    names = ", ".join(f"{variable} ({_describe(obj)})" for variable, obj in found.items())
    example = next(iter(found))
    return f"flows found: {names}. Name one: {path_text}:{example}"


def _describe(obj: Any) -> str:
    kind = "Flow" if isinstance(obj, Flow) else "@flow"
    return f"{kind} {getattr(obj, 'name', '?')!r}"
