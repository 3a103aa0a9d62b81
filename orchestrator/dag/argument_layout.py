"""ArgumentLayout: how a task's ``run`` signature names call arguments.

Worked out once per signature (copies of a task share it), so binding a call inside a
flow is a few dict operations instead of ``inspect.Signature.bind_partial``; signatures
it does not handle (positional-only parameters, ``*args``) are left to ``inspect``.
"""

from __future__ import annotations

import inspect
from typing import Any

_P = inspect.Parameter


class ArgumentLayout:
    """How a ``run`` signature names call arguments, worked out once per signature so
    binding a call is a few dict operations instead of ``Signature.bind_partial``."""

    __slots__ = (
        "named",
        "named_set",
        "names",
        "positional",
        "signature",
        "simple",
        "var_keyword",
    )

    def __init__(self, signature: inspect.Signature) -> None:
        self.signature = signature
        params = list(signature.parameters.values())
        kinds = {p.kind for p in params}
        #: no positional-only parameters or ``*args``: those are left to ``inspect``
        self.simple = not kinds & {_P.POSITIONAL_ONLY, _P.VAR_POSITIONAL}
        #: parameters a positional argument fills, in order
        self.positional = tuple(p.name for p in params if p.kind is _P.POSITIONAL_OR_KEYWORD)
        #: parameters a keyword argument names, in order
        self.named = tuple(
            p.name for p in params if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)
        )
        self.named_set = frozenset(self.named)
        self.var_keyword = _P.VAR_KEYWORD in kinds
        #: every parameter name
        self.names = frozenset(signature.parameters)

    def accepts(self, key: str) -> bool:
        """Whether an input named ``key`` can be bound (a parameter, or ``**kwargs``)."""
        return key in self.names or self.var_keyword

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """What ``bind_partial`` gives, with ``**kwargs`` flattened last; None when it would
        raise or the signature is not simple (the caller then asks ``inspect``)."""
        positional = self.positional
        if not self.simple or len(args) > len(positional):
            return None
        if not args and len(kwargs) == 1:  # the usual call, task(x=...)
            (key,) = kwargs
            return dict(kwargs) if key in self.named_set or self.var_keyword else None
        arguments = dict(zip(positional, args, strict=False))
        if not kwargs:
            return arguments
        named, extra = self.named_set, []
        for key in kwargs:
            if key in arguments:
                return None
            if key not in named:
                if not self.var_keyword:
                    return None
                extra.append(key)
        if len(kwargs) == 1 and not extra:
            arguments.update(kwargs)
        elif len(extra) < len(kwargs):  # named ones in signature order, as inspect does
            for name in self.named[len(args) :]:
                if name in kwargs:
                    arguments[name] = kwargs[name]
        for key in extra:
            arguments[key] = kwargs[key]
        return arguments
