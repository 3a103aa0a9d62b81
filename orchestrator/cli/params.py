"""Flow parameters from the command line: ``--param name=value`` and ``--params-file``.

Values are JSON when they parse as JSON (``8``, ``true``, ``["a", "b"]``) and
strings otherwise (``alice``, ``007``). ``--param`` wins over the file. Parameters
are checked against the flow before anything runs: a ``Flow``'s ``Parameter``
tasks, or an ``@flow`` function's signature; then each value is converted to its
parameter's type (``--param n=8`` gives an ``int`` parameter ``8``, ``--param n=abc``
is refused; a ``str`` parameter given ``--param tag=8`` gets the text ``"8"``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.cli.loading import CommandError, LoadedFlow
from orchestrator.dag.parameter_types import convert_values, signature_types
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


def param_texts(items: Sequence[str]) -> dict[str, str]:
    """Each ``--param`` value as typed (the last one per name), for type conversion.

    >>> param_texts(["n=8", "tag=007", "n=9"])
    {'n': '9', 'tag': '007'}
    """
    texts = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if sep and name.strip():
            texts[name.strip()] = raw
    return texts


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


def check_flow_params(
    loaded: LoadedFlow, params: Mapping[str, Any], texts: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``params`` converted to the flow's parameter types.

    Args:
        texts: ``--param`` values as typed (``param_texts``), tried when their JSON reading
            does not fit a parameter's type.

    Raises:
        ParameterError: unknown or missing names (``ParameterTypeError``: a value that does
            not fit its type).
    """
    if loaded.is_dag:
        values = check_parameters(loaded.obj.name, loaded.obj.parameters(), params, texts)
        return {name: values[name] for name in params}
    signature = flow_signature(loaded.obj)
    if signature is None:
        return dict(params)
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
    types = getattr(loaded.obj, "parameter_types", None)
    if not isinstance(types, dict):
        fn = getattr(loaded.obj, "fn", None) or getattr(loaded.obj, "__wrapped__", loaded.obj)
        types = signature_types(fn, signature)
    return convert_values(loaded.name, types, params, texts)


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
