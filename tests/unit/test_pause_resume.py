"""Pausing with ``manual_only`` (or the PAUSE signal) and resuming with ``Resume``: the
``Resume`` state and start tasks on the default runner. The pause/resume behaviour every
runner must show is in ``tests/contract/test_pause_resume.py``.

How upstream results reach a resumed task: ``flow.run`` never blocks, so a paused
run returns at once with the task ``Paused``. The next run gets the finished tasks'
states back through ``task_states`` (``{**paused.result(), gate: Resume()}``), so
their results feed the resumed task without running them again.
"""

from __future__ import annotations

from orchestrator import Flow, task
from orchestrator.engine.state import Pending, Resume
from orchestrator.triggers import manual_only


def test_start_tasks_without_data_upstream_run_and_the_tasks_before_them_stay_pending(record):
    @task
    def before():
        record("before")

    @task(trigger=manual_only)
    def gate():
        record("gate")
        return "opened"

    with Flow("order only") as flow:
        b = before()
        g = gate(upstream_tasks=[b])
    state = flow.run(task_states={g: Resume()}, start_tasks=[g])
    assert state.is_successful()  # its terminal task finished
    assert state.result()[g].result() == "opened"
    assert type(state.result()[b]) is Pending
    assert record.events == ["gate"]


def test_resume_is_a_scheduled_pending_state():
    resume = Resume()
    assert resume.is_pending()
    assert resume.is_scheduled()
    assert resume.is_resume()
    assert not resume.is_paused()
