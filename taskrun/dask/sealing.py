"""Sealed events: a run's records as plain msgpack data, signed by its workers.

Workers report to the orchestrator through Dask events on the session's topic. Any
client of the scheduler can publish on any topic, and the topic's name is public (the
scheduler lists its topics), so an event proves nothing by arriving. Each session
therefore makes a secret (``new_channel``: 32 random bytes) that travels to its workers
inside the task calls it submits, and every event is sealed with it:

    {"packed": msgpack((worker address, [record, ...])), "sig": HMAC-SHA256(secret, packed)}

``open_sealed`` checks the signature first (``hmac.compare_digest``) and only then
reads the payload: msgpack of strings, numbers, bytes, lists and string-keyed maps,
nothing that runs code when read. Results inside records stay pickled bytes until a
user asks for them (``taskrun.dask.pickled``). One signature covers a whole event (up to
``outbox.MAX_RECORDS_PER_EVENT`` records), so signing costs microseconds per event.
Pure: no Dask here.

>>> channel = new_channel("orchestrator-1f2e3d4c5b6a")
>>> sealed = seal(channel.secret, "tcp://10.0.0.7:40123", [("r", "add_one-1-x", None)])
>>> open_sealed(sealed, channel.secret)
('tcp://10.0.0.7:40123', (('r', 'add_one-1-x', None),))
>>> open_sealed({**sealed, "sig": bytes(32)}, channel.secret)
Traceback (most recent call last):
...
taskrun.dask.sealing.UnsignedEventError: the event is not signed with this run's secret
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgpack

#: bytes of a session's secret
SECRET_BYTES = 32
#: largest payload read (a bigger one is refused before anything else is done with it)
MAX_PAYLOAD_BYTES = 1 << 30
_DIGEST = "sha256"
_SIGNATURE_BYTES = 32


class Channel(NamedTuple):
    """Where a run's workers report: the Dask event topic, and the secret they sign with."""

    topic: str
    secret: bytes

    def __repr__(self) -> str:  # the secret stays out of logs and reprs
        return f"Channel(topic={self.topic!r})"


class UnsignedEventError(ValueError):
    """An event on the topic that this run's workers did not sign."""


class MalformedEventError(ValueError):
    """A signed event whose payload is not the records it should be (a version mismatch
    between orchestrator and workers, or a bug)."""


def new_channel(topic: str) -> Channel:
    """A channel on ``topic`` with a fresh secret."""
    return Channel(topic, secrets.token_bytes(SECRET_BYTES))


def seal(secret: bytes, worker: str | None, records: Sequence[Sequence[Any]]) -> dict[str, bytes]:
    """The event message carrying ``records`` from ``worker``, signed with ``secret``."""
    packed: bytes = msgpack.packb((worker, records), use_bin_type=True)
    return {"packed": packed, "sig": hmac.new(secret, packed, _DIGEST).digest()}


def open_sealed(message: Any, secret: bytes) -> tuple[str | None, tuple[Any, ...]]:
    """(worker address, records as tuples) of a sealed event.

    Raises:
        UnsignedEventError: not a sealed event, or not signed with ``secret``.
        MalformedEventError: signed, but its payload is not a worker's records.
    """
    if type(message) is not dict:
        raise UnsignedEventError("the event is not a sealed message")
    packed, signature = message.get("packed"), message.get("sig")
    if type(packed) is not bytes or type(signature) is not bytes:
        raise UnsignedEventError("the event is not a sealed message")
    if len(signature) != _SIGNATURE_BYTES or len(packed) > MAX_PAYLOAD_BYTES:
        raise UnsignedEventError("the event is not signed with this run's secret")
    if not hmac.compare_digest(hmac.new(secret, packed, _DIGEST).digest(), signature):
        raise UnsignedEventError("the event is not signed with this run's secret")
    try:
        opened = msgpack.unpackb(packed, raw=False, strict_map_key=True, use_list=False)
    except Exception as err:  # msgpack raises several types for bad input
        raise MalformedEventError(f"unreadable payload: {type(err).__name__}: {err}") from err
    if type(opened) is not tuple or len(opened) != 2:
        raise MalformedEventError("the payload is not (worker, records)")
    worker, records = opened
    if (worker is not None and type(worker) is not str) or type(records) is not tuple:
        raise MalformedEventError("the payload is not (worker, records)")
    return worker, records
