"""The examples in ``examples/`` run as the README says and do what their docstrings claim."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from orchestrator.cli.loading import load_flow
from orchestrator.engine.state import Resume

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_mapreduce_example_sums_every_region() -> None:
    loaded = load_flow(str(EXAMPLES / "mapreduce.py"))
    example = vars(loaded.module)
    state = loaded.obj.run(parameters={"regions": 3, "orders_per_region": 20})
    assert state.is_successful()
    revenues = [
        example["region_revenue"].run(example["fetch_orders"].run(f"region-{i:02d}", 20))
        for i in range(3)
    ]
    summary = state.result()[example["summary"]].result()
    assert summary == {"regions": 3, "total": round(sum(revenues), 2), "best": max(revenues)}


def test_projects_db_example_adds_the_good_projects_and_fails_the_bad_one(tmp_path: Path) -> None:
    main = load_flow(str(EXAMPLES / "projects_db.py")).obj
    db_file = tmp_path / "projects.db"
    state = main(["orion", "", "critically-important"], db_file=str(db_file))
    assert repr(state) == "Failed(message='1/4 states failed.', type=FAILED)"
    assert [s.name for s in state.result(raise_on_failure=False)] == [
        "Completed",
        "Completed",
        "Failed",
        "Completed",
    ]
    with sqlite3.connect(db_file) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM projects ORDER BY id")]
    assert names == ["orion", "critically-important"]


def test_nightly_report_example_retries_skips_pauses_and_resumes(tmp_path: Path) -> None:
    loaded = load_flow(str(EXAMPLES / "nightly_report.py"))
    flow, example = loaded.obj, vars(loaded.module)
    publish = example["published"]
    state = flow.run(parameters={"output_dir": str(tmp_path)})
    states = state.result()
    assert state.is_paused()
    assert states[publish].is_paused()
    assert states[example["rates"]].is_successful()
    assert [s.name for s in states[example["sales"]].map_states] == [
        "Success",
        "Success",
        "Skipped",
        "Success",
        "Success",
    ]
    assert states[example["report"]].result()["stores"] == 4
    assert json.loads((tmp_path / "nightly-report.json").read_text())["stores"] == 4
    assert states[next(t for t in flow.tasks if t.name == "alert_on_failure")].is_failed()

    resumed = flow.run(
        parameters={"output_dir": str(tmp_path)},
        task_states={**states, publish: Resume()},
        start_tasks=[publish],
    )
    assert resumed.is_successful()
    assert resumed.result()[publish].result().startswith("published 4 stores, EUR ")


def test_nightly_report_example_fails_when_retries_run_out(tmp_path: Path) -> None:
    loaded = load_flow(str(EXAMPLES / "nightly_report.py"))
    flow, example = loaded.obj, vars(loaded.module)
    state = flow.run(parameters={"output_dir": str(tmp_path), "flaky_attempts": 9})
    states = state.result()
    assert state.is_failed()
    assert isinstance(states[example["rates"]].result(raise_on_failure=False), ConnectionError)
    assert states[next(t for t in flow.tasks if t.name == "alert_on_failure")].is_successful()
