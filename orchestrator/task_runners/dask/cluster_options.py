"""Checking ``DaskTaskRunner(cluster_class=..., cluster_kwargs=...)`` when the runner is built.

Both would otherwise fail only when a flow run starts the cluster, and badly: an import
path naming nothing raises a bare ``AttributeError``, and a misspelt keyword of a
``LocalCluster`` (``n_worker=2``) travels to each worker process, where it surfaces as
"Nanny failed to start" with the real ``TypeError`` in a worker's log.

A keyword is refused only when the class's signature can tell: its own parameters, plus,
where it takes ``**kwargs``, the parameters of the classes those are known to reach
(``LocalCluster`` -> its worker class, ``Nanny`` -> ``Worker`` -> ``Server``). A class
taking ``**kwargs`` anywhere else (``dask_jobqueue`` clusters, say) is not checked.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import OrchestratorError


class ClusterOptionError(OrchestratorError, TypeError, ValueError):
    """``cluster_class`` or ``cluster_kwargs`` of a ``DaskTaskRunner`` cannot work."""

    def __init__(self, option: str, problem: str, fix: str) -> None:
        super().__init__(option, problem, fix)
        self.option, self.problem, self.fix = option, problem, fix

    def __str__(self) -> str:
        return f"DaskTaskRunner {self.option}: {self.problem} {self.fix}"


def check_cluster_options(cluster_class: Any, cluster_kwargs: Mapping[str, Any] | None) -> None:
    """Refuse a ``cluster_class`` that imports nothing, or ``cluster_kwargs`` it cannot take.

    Imports ``distributed`` only when there is something to check.
    """
    if not cluster_class and not cluster_kwargs:
        return
    if cluster_class:
        cls = resolve_cluster_class(cluster_class)
    else:
        from distributed import LocalCluster

        cls = LocalCluster
    kwargs = dict(cluster_kwargs or {})
    accepted = accepted_keywords(cls, kwargs)
    if accepted is None:
        return
    unknown = sorted(key for key in kwargs if key not in accepted)
    if unknown:
        name = unknown[0]
        near = difflib.get_close_matches(name, sorted(accepted), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ClusterOptionError(
            "cluster_kwargs",
            f"{cls.__name__} takes no keyword argument {name!r}"
            f"{f' (nor {unknown[1:]!r})' if len(unknown) > 1 else ''}.{hint}",
            f"See help({cls.__module__.split('.')[0]}.{cls.__name__}) for what it takes"
            + (" (its workers' options, such as memory_limit, too)." if _is_local(cls) else "."),
        )


def resolve_cluster_class(spec: Any) -> Any:
    """A cluster class, or the one its import path names (``"dask_jobqueue.SLURMCluster"``)."""
    if not isinstance(spec, str):
        if not callable(spec):
            raise ClusterOptionError(
                "cluster_class",
                f"{spec!r} is not a class.",
                "Pass a cluster class (distributed.LocalCluster) or its import path "
                "('dask_jobqueue.SLURMCluster').",
            )
        return spec
    module_name, _, name = spec.rpartition(".")
    if not module_name or not name:
        raise ClusterOptionError(
            "cluster_class",
            f"{spec!r} is not an import path.",
            "Write module and class, e.g. 'dask_jobqueue.SLURMCluster'.",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ClusterOptionError(
            "cluster_class",
            f"{spec!r}: module {module_name!r} cannot be imported ({err}).",
            "Install the package that provides it, or fix the path.",
        ) from err
    found = getattr(module, name, None)
    if found is None:
        clusters = [n for n in dir(module) if n.endswith("Cluster") and not n.startswith("_")]
        near = difflib.get_close_matches(name, clusters, n=1)
        hint = f" Did you mean {module_name}.{near[0]}?" if near else ""
        shown = ", ".join(clusters[:10]) or "none"
        raise ClusterOptionError(
            "cluster_class",
            f"{spec!r}: module {module_name!r} has no {name!r}.{hint}",
            f"Its cluster classes are: {shown}.",
        )
    return resolve_cluster_class(found)


def accepted_keywords(cls: Any, kwargs: Mapping[str, Any]) -> frozenset[str] | None:
    """The keywords ``cls(**kwargs)`` accepts, or None when its signature cannot tell."""
    own, open_ended = _own_keywords(cls)
    if own is None:
        return None
    if not open_ended:
        return own
    targets = _forwarded_to(cls, kwargs)
    if targets is None:
        return None
    accepted = set(own)
    for target in targets:
        more = accepted_keywords(target, {})
        if more is None:
            return None
        accepted |= more
    return frozenset(accepted)


def _own_keywords(cls: Any) -> tuple[frozenset[str] | None, bool]:
    """(the keyword parameters of ``cls``, whether it also takes ``**kwargs``)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None, True
    params = signature.parameters.values()
    named = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return named, any(p.kind is p.VAR_KEYWORD for p in params)


def _forwarded_to(cls: Any, kwargs: Mapping[str, Any]) -> list[Any] | None:
    """The classes the ``**kwargs`` of ``cls`` reach, for the ``distributed`` classes known."""
    from distributed import Nanny, Worker
    from distributed.core import Server

    init = getattr(cls, "__init__", None)
    if _is_local(cls):
        worker_class = kwargs.get("worker_class")
        return [worker_class] if worker_class is not None else [Nanny, Worker]
    if init is Nanny.__init__:
        return [Worker]
    if init is Worker.__init__:
        return [Server]
    return None


def _is_local(cls: Any) -> bool:
    """A ``LocalCluster`` (or a subclass keeping its ``__init__``)."""
    from distributed import LocalCluster

    return getattr(cls, "__init__", None) is LocalCluster.__init__
