"""Results that outlive a run: storage, serializers, locations, stored references.

The classes live in ``taskrun`` (not ``orchestrator``) because Dask workers write and
read them; ``orchestrator.results`` re-exports them for users. Modules:

    base           Result: an fsspec storage URL plus a serializer
    local          LocalResult(dir=...)
    inline         PrefectResult: small JSON values, inline
    serializers    PickleSerializer (default), JSONSerializer, PandasSerializer
    locations      target / location templates, formatted per task run
    stored         StoredResult: a state's result with its location
    containers     many results in one local file, addressed as ``file#offset:length``
    fsspec_result  the storage calls (fsspec)
    errors         ResultWriteError, ResultReadError, TargetTemplateError
"""

from taskrun.results.base import Result
from taskrun.results.errors import (
    CacheValidatorError,
    ResultError,
    ResultReadError,
    ResultWriteError,
    TargetTemplateError,
)
from taskrun.results.inline import PrefectResult
from taskrun.results.local import LocalResult
from taskrun.results.serializers import (
    JSONSerializer,
    PandasSerializer,
    PickleSerializer,
    Serializer,
)
from taskrun.results.stored import StoredResult, result_location

__all__ = [
    "CacheValidatorError", "JSONSerializer", "LocalResult", "PandasSerializer",
    "PickleSerializer", "PrefectResult", "Result", "ResultError", "ResultReadError",
    "ResultWriteError", "Serializer", "StoredResult", "TargetTemplateError", "result_location",
]  # fmt: skip
