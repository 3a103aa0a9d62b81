"""Serializers: how a result's value becomes bytes in storage, and back.

A ``Result`` writes ``serializer.serialize(value)`` and reads with
``serializer.deserialize(blob)``. Each serializer is a small picklable class (results
travel to Dask workers inside their tasks):

    PickleSerializer   cloudpickle, any Python object (the default)
    JSONSerializer     JSON text, for plain data other tools can read
    PandasSerializer   a DataFrame as parquet (only where pandas and pyarrow are installed)

A custom serializer subclasses ``Serializer`` and implements both methods.
"""

from __future__ import annotations

import importlib
import io
import json
import pickle
from typing import Any

import cloudpickle


class Serializer:
    """Turns a value into bytes and back; subclasses implement both methods."""

    def serialize(self, value: Any) -> bytes:
        """The bytes that stand for ``value``."""
        raise NotImplementedError

    def deserialize(self, blob: bytes) -> Any:
        """The value ``blob`` stands for."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: types whose plain pickle is what cloudpickle writes, made several times faster
_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None)})


class PickleSerializer(Serializer):
    """cloudpickle: any picklable Python object (functions and lambdas too)."""

    def serialize(self, value: Any) -> bytes:
        if type(value) in _PLAIN:  # a map's children often return numbers and strings
            return pickle.dumps(value, protocol=cloudpickle.DEFAULT_PROTOCOL)
        return bytes(cloudpickle.dumps(value))

    def deserialize(self, blob: bytes) -> Any:
        return cloudpickle.loads(blob)


class JSONSerializer(Serializer):
    """JSON text (UTF-8): dicts, lists, strings, numbers, booleans and None."""

    def serialize(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def deserialize(self, blob: bytes) -> Any:
        return json.loads(blob.decode())


class PandasSerializer(Serializer):
    """A ``pandas.DataFrame`` as parquet bytes; needs pandas and pyarrow.

    Raises:
        ImportError: at creation, when pandas or pyarrow is missing (with the fix).
    """

    def __init__(self) -> None:
        try:  # optional dependencies, looked up by name (no type stubs needed)
            importlib.import_module("pandas")
            importlib.import_module("pyarrow")
        except ImportError as err:
            raise ImportError(
                "PandasSerializer needs pandas and pyarrow: pip install pandas pyarrow "
                "(or use PickleSerializer, the default)."
            ) from err

    def serialize(self, value: Any) -> bytes:
        buffer = io.BytesIO()
        value.to_parquet(buffer)
        return buffer.getvalue()

    def deserialize(self, blob: bytes) -> Any:
        pandas: Any = importlib.import_module("pandas")  # checked in __init__
        return pandas.read_parquet(io.BytesIO(blob))
