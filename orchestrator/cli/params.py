"""Flow parameters from the command line: ``--param name=value`` and ``--params-file``.

Values are JSON when they parse as JSON (``8``, ``true``, ``["a", "b"]``) and
strings otherwise (``alice``, ``007``). ``--param`` wins over the file. Parameters
are checked against the flow before anything runs: a ``Flow``'s ``Parameter``
tasks, or an ``@flow`` function's signature.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.cli.loading import CommandError, LoadedFlow
from orchestrator.errors import ParameterError
from orchestrator.runs.scheduler import check_parameters


def parse_value(raw: str) -> Any:
    """JSON when ``raw`` parses as JSON, else ``raw`` itself.

    >>> [parse_value(v) for v in ("8", "true", '["a"]', "alice", "007", "")]
    [8, True, ['a'], 'alice', '007', '']
    """
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def collect_params(items: Sequence[str], params_file: str | None) -> dict[str, Any]:
    """The run's parameters: the file's object, then each ``name=value`` over it."""
    params: dict[str, Any] = read_params_file(Path(params_file)) if params_file else {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(
                f"--param expects name=value, got {item!r}. "
                "For example: --param regions=8 --param region=west"
            )
        params[name.strip()] = parse_value(raw)
    return params


def read_params_file(path: Path) -> dict[str, Any]:
    """A JSON file holding one object of parameter values."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CommandError(f"--params-file: no such file {str(path)!r}") from None
    except json.JSONDecodeError as err:
        raise CommandError(f"--params-file {str(path)!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise CommandError(
            f"--params-file {str(path)!r} must hold a JSON object such as "
            f'{{"regions": 8}}, got {type(data).__name__}'
        )
    return data


def check_flow_params(loaded: LoadedFlow, params: Mapping[str, Any]) -> None:
    """Raise ``ParameterError`` if ``params`` do not fit the flow (unknown or missing names)."""
    if loaded.is_dag:
        check_parameters(loaded.obj.name, loaded.obj.parameters(), params)
        return
    signature = flow_signature(loaded.obj)
    if signature is None:
        return
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    named = {
        n: p
        for n, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    unknown = [] if accepts_any else [n for n in params if n not in named]
    missing = [n for n, p in named.items() if p.default is p.empty and n not in params]
    if unknown or missing:
        raise ParameterError(loaded.name, missing=missing, unknown=unknown, known=list(named))


def flow_signature(obj: Any) -> inspect.Signature | None:
    """The signature of an ``@flow`` function's body."""
    for candidate in (getattr(obj, "fn", None), getattr(obj, "__wrapped__", None), obj):
        if candidate is None:
            continue
        try:
            return inspect.signature(candidate)
        except (TypeError, ValueError):
            continue
    return None
