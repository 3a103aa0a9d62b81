"""A nightly sales report in euros: retries, triggers, a skipped store and a paused approval.

    list_stores -> load_sales.map ---> to_euros.map -> build_report -> publish   (approval)
    fetch_rates (flaky, retried) --'                      |-> archive            (always_run)
                                                          '-> alert_on_failure   (any_failed)

- ``fetch_rates`` calls a flaky exchange-rate service: its first attempts time out
  and ``max_retries`` / ``retry_delay`` get it through (``Retrying`` in between).
- One store was closed today: ``load_sales`` raises ``SKIP`` and its ``to_euros``
  child is skipped too; the report covers the open stores.
- ``publish`` waits for a person: its trigger, ``approval_needed``, is ``manual_only``
  once the report succeeded, so the run stops there, ``Paused``, until someone
  resumes it (a failed report fails ``publish`` instead of asking for approval).
- ``archive`` always runs (``always_run``); ``alert_on_failure`` runs only if the
  rates or the report failed (``any_failed``; otherwise it ends ``TriggerFailed``, by
  design, which is why the flow's state is decided by ``build_report`` and ``publish``).

    orchestrator run examples/nightly_report.py     # ends Paused (exit status 0)
    orchestrator resume last --task publish         # later, any process: approves, publishes
    orchestrator run examples/nightly_report.py --param flaky_attempts=5   # retries run out
    python examples/nightly_report.py       # runs, then approves and resumes publish

``build_report`` persists its result (``LocalResult``: ``$ORCHESTRATOR_HOME/results``), so
``orchestrator resume`` (or ``orchestrator.journal.resume_paused(flow, RUN_ID,
task="publish")``) can give ``publish`` the report in another process: the run journal
has the paused run's task states, the same flow run goes on as its second attempt, and
nothing upstream runs again. The script resumes in its own process, from the paused
run's states.
"""

from __future__ import annotations

import datetime
import json
import random
import tempfile
from pathlib import Path

from orchestrator import Flow, Parameter, context, task, unmapped
from orchestrator.engine import signals
from orchestrator.engine.state import Resume
from orchestrator.results import LocalResult
from orchestrator.triggers import all_successful, always_run, any_failed, manual_only


@task(max_retries=3, retry_delay=datetime.timedelta(seconds=0.5))
def fetch_rates(flaky_attempts: int) -> dict[str, float]:
    """Euro exchange rates from a service that times out on its first ``flaky_attempts`` calls."""
    attempt = context.get("task_run_count", 1)
    if attempt <= flaky_attempts:
        raise ConnectionError(f"exchange-rate service timed out (attempt {attempt})")
    return {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}


@task
def list_stores(count: int) -> list[str]:
    return [f"store-{i:02d}" for i in range(1, count + 1)]


@task
def load_sales(store: str, closed_store: str) -> list[dict[str, object]]:
    """The store's sales of the day (generated); a closed store has none and is skipped."""
    if store == closed_store:
        raise signals.SKIP(f"{store} was closed today")
    rng = random.Random(store)
    return [
        {"amount": round(rng.uniform(5, 300), 2), "currency": rng.choice(["EUR", "USD", "GBP"])}
        for _ in range(rng.randint(20, 60))
    ]


@task
def to_euros(sales: list[dict[str, object]], rates: dict[str, float]) -> float:
    """One store's revenue in euros."""
    return round(sum(float(s["amount"]) * rates[str(s["currency"])] for s in sales), 2)  # type: ignore[arg-type]


# a closed store must not skip the whole report; persisted, so another process can resume
@task(skip_on_upstream_skip=False, result=LocalResult())
def build_report(revenues: list[float | None]) -> dict[str, object]:
    open_stores = [r for r in revenues if r is not None]  # skipped stores give None
    return {
        "date": str(context.get("today")),
        "stores": len(open_stores),
        "revenue_eur": round(sum(open_stores), 2),
    }


def approval_needed(upstream_states):  # type: ignore[no-untyped-def]
    """A trigger: pause for a person (``manual_only``) once every upstream task succeeded."""
    verdict = all_successful(upstream_states)
    return manual_only(upstream_states) if verdict else verdict


@task(trigger=approval_needed)
def publish(report: dict[str, object]) -> str:
    """Send the report out: waits for a person to approve (resume) it."""
    context.logger.info("Publishing report: %s", report)
    return f"published {report['stores']} stores, EUR {report['revenue_eur']}"


@task(trigger=always_run, skip_on_upstream_skip=False)
def archive(report: dict[str, object], output_dir: str) -> str:
    """Keep a copy of the report (or of nothing, if it failed): runs whatever happened."""
    path = Path(output_dir) / "nightly-report.json"
    path.write_text(json.dumps(report if isinstance(report, dict) else {"report": None}))
    return str(path)


@task(trigger=any_failed)
def alert_on_failure() -> None:
    context.logger.warning("Nightly report failed: paging the data team.")


with Flow("nightly-report") as flow:
    stores = Parameter("stores", default=5)
    closed_store = Parameter("closed_store", default="store-03")
    flaky_attempts = Parameter("flaky_attempts", default=2)
    output_dir = Parameter("output_dir", default=tempfile.gettempdir())

    rates = fetch_rates(flaky_attempts)
    sales = load_sales.map(list_stores(stores), closed_store=unmapped(closed_store))
    report = build_report(to_euros.map(sales, rates=unmapped(rates)))
    published = publish(report)
    archive(report, output_dir)
    alert_on_failure(upstream_tasks=[rates, report])

flow.set_reference_tasks([report, published])


if __name__ == "__main__":
    state = flow.run(progress=True)
    if state.is_paused():
        print("\nA person approves the report; resuming 'publish'...\n")
        state = flow.run(
            task_states={**state.result(), published: Resume()},
            start_tasks=[published],
            progress=True,
        )
    print(state.result()[published].result())
