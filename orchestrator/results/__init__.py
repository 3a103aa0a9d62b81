"""Results that outlive a run (public path ``orchestrator.results``).

``Result("s3://bucket/prefix")`` stores under any fsspec URL, ``LocalResult(dir=...)`` in a
local directory, ``PrefectResult()`` keeps small JSON values inline; serializers say how
values become bytes. Give a task one with ``@task(result=..., target=..., checkpoint=...)``
or a whole flow with ``Flow(..., result=...)``. The classes live in ``taskrun.results``
because Dask workers write and read them.
"""

from taskrun.results import (
    CacheValidatorError,
    JSONSerializer,
    LocalResult,
    PandasSerializer,
    PickleSerializer,
    PrefectResult,
    Result,
    ResultError,
    ResultReadError,
    ResultWriteError,
    Serializer,
    StoredResult,
    TargetTemplateError,
    result_location,
)

__all__ = [
    "CacheValidatorError", "JSONSerializer", "LocalResult", "PandasSerializer",
    "PickleSerializer", "PrefectResult", "Result", "ResultError", "ResultReadError",
    "ResultWriteError", "Serializer", "StoredResult", "TargetTemplateError", "result_location",
]  # fmt: skip
