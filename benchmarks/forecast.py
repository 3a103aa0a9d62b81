"""Forecasts of one run's time from the smaller sizes already measured in this run.

The harness cannot interrupt a run, so before a size it has not seen it predicts the
time of one run from the last two sizes of the same workload, runner and side
(``t2 * (n / n2) ** k`` with ``k`` the growth exponent between them, clamped to
[1, 2.5]; linear from a single earlier size). A side predicted past the limit is
skipped with a note that gives the prediction, so something that grows faster than
linearly is reported instead of eating the whole time budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Key = tuple[str, str, str]  # workload, runner, side


@dataclass
class Forecast:
    #: seconds per run above which a side is skipped; 0 never skips
    limit: float
    seen: dict[Key, list[tuple[int, float]]] = field(default_factory=dict)

    def record(self, key: Key, n: int, seconds: float | None) -> None:
        if seconds is not None and n > 0:
            self.seen.setdefault(key, []).append((n, seconds))

    def predict(self, key: Key, n: int) -> tuple[float, float] | None:
        """(seconds, growth exponent) of one run at ``n``; None without a smaller size."""
        smaller = sorted(p for p in self.seen.get(key, []) if p[0] < n)
        if not smaller:
            return None
        n2, t2 = smaller[-1]
        exponent = 1.0
        if len(smaller) >= 2 and smaller[-2][1] > 0 and t2 > 0:
            n1, t1 = smaller[-2]
            exponent = min(2.5, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
        return t2 * (n / n2) ** exponent, exponent

    def too_slow(self, key: Key, n: int) -> str | None:
        """Why a side should be skipped at ``n``, or None."""
        predicted = self.predict(key, n)
        if not self.limit or predicted is None or predicted[0] <= self.limit:
            return None
        seconds, exponent = predicted
        return (
            f"skipped: one run predicted to take {seconds:.0f} s (time grows as "
            f"N^{exponent:.2f} over the smaller sizes), over --max-run-seconds "
            f"{self.limit:.0f}; run this size alone with --max-run-seconds 0"
        )
