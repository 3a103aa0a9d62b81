"""Peak resident memory of this process during one run, exactly and without sampling.

Method: Linux keeps the process's peak RSS in ``VmHWM`` (``/proc/self/status``), and
writing ``5`` to ``/proc/self/clear_refs`` resets that peak to the current RSS. So
before a run we reset the peak and read the current RSS; after it we read ``VmHWM``:
the difference is the run's peak growth, with no sampling thread competing for the
GIL and no short spike missed. Where the reset is not allowed (other kernels, some
containers) a background thread samples ``/proc/self/statm`` every 2 ms instead.

What it covers: everything in this process: the orchestrator, Dask's client, the
scheduler of a ``LocalCluster`` (always in-process) and, with ``processes=False``, the
worker and the results it holds. Memory freed by an earlier run is reused by the next
one, so the harness reports the largest growth over the repetitions.
"""

from __future__ import annotations

import os
import re
import threading
from types import TracebackType

_STATUS = "/proc/self/status"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _status_kib(field: str) -> int:
    with open(_STATUS) as handle:
        match = re.search(rf"^{field}:\s+(\d+) kB", handle.read(), re.MULTILINE)
    if match is None:
        raise OSError(f"{_STATUS} has no {field}")
    return int(match.group(1)) * 1024


def _statm_rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


class PeakGrowth:
    """``with PeakGrowth() as peak: run()`` then ``peak.bytes`` is the peak RSS growth."""

    exact = _can_reset_peak() if os.path.exists(_STATUS) else False

    def __init__(self) -> None:
        self.bytes = 0
        self._start = 0
        self._peak = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    @classmethod
    def method(cls) -> str:
        return "VmHWM reset via clear_refs" if cls.exact else "statm sampled every 2 ms"

    def __enter__(self) -> PeakGrowth:
        if self.exact:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self._start = _status_kib("VmRSS")
        else:
            self._start = self._peak = _statm_rss()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.exact:
            self.bytes = max(0, _status_kib("VmHWM") - self._start)
            return
        self._stop.set()
        assert self._sampler is not None
        self._sampler.join()
        self.bytes = max(0, max(self._peak, _statm_rss()) - self._start)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _statm_rss())
