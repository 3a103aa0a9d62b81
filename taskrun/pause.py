"""``pause_task``: pause a running task from inside its body, as Prefect 1's does.

    @task
    def deploy():
        build()
        pause_task("Check the build before it goes out.")   # first run: pauses here
        ship()                                              # resumed run: goes on

The first run raises ``PAUSE``: the task ends ``Paused`` with its inputs kept. Resumed
(``Resume()`` as its state, which sets ``context.resume``), the body runs again from the
start and ``pause_task`` returns at once. With a ``duration`` the pause ends by itself: the
``Paused`` state's ``start_time`` is then, and a run given that state once it is due runs
the task as resumed.
"""

from __future__ import annotations

import datetime as _dt

from taskrun import signals
from taskrun.context import current


def pause_task(message: str | None = None, duration: _dt.timedelta | None = None) -> None:
    """Pause the task run calling it, unless the run is a resumed one (``context.resume``).

    Args:
        message: why, for the person who resumes it.
        duration: how long to pause; without one the task waits to be resumed.

    Raises:
        PAUSE: always, unless resumed; the executor turns it into ``Paused``.
    """
    if current().get("resume"):
        return
    start_time = _dt.datetime.now(_dt.UTC) + duration if duration is not None else None
    raise signals.PAUSE(message or "pause_task() paused the task.", start_time=start_time)
