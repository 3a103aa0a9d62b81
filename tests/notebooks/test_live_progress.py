"""Live progress in a notebook: one output, updated in place, not one output per line.

Executes ``live_progress.ipynb`` headless on a real Jupyter kernel (nbclient + ipykernel)
and records the kernel's display messages per cell: a run's progress must be one
``display_data`` whose display id later ``update_display_data`` messages reuse, ending
as the summary table. Needs the ``notebook`` extra; skipped without it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

EXTRA = "install the notebook extra: pip install -e '.[notebook]'"
nbformat = pytest.importorskip("nbformat", reason=EXTRA)
nbclient = pytest.importorskip("nbclient", reason=EXTRA)
pytest.importorskip("ipykernel", reason=EXTRA)

NOTEBOOK = Path(__file__).with_name("live_progress.ipynb")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


class Executed:
    """The executed notebook: per tag, the cell's outputs and the display messages sent
    while it ran (``(msg_type, display_id, text)``)."""

    def __init__(self) -> None:
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.messages: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    result = Executed()
    tags = {i: (c.get("metadata", {}).get("tags") or [""])[0] for i, c in enumerate(notebook.cells)}

    class Recording(nbclient.NotebookClient):  # type: ignore[misc]
        """nbclient as it is, noting the display messages each cell receives."""

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            kind = msg["msg_type"]
            if kind in ("display_data", "update_display_data"):
                content = msg["content"]
                display_id = (content.get("transient") or {}).get("display_id")
                text = content.get("data", {}).get("text/plain", "")
                result.messages[tags[cell_index]].append((kind, display_id, text))
            return super().process_message(msg, cell, cell_index)

    workdir = str(tmp_path_factory.mktemp("live-progress"))
    client = Recording(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": workdir}}
    )
    client.execute()
    for index, cell in enumerate(notebook.cells):
        if tags[index]:
            result.outputs[tags[index]] = list(cell.get("outputs", []))
    return result


def one_updated_display(messages: list[tuple[str, str | None, str]]) -> str:
    """The display id of the one progress output, after checking it was updated in place."""
    shown = [m for m in messages if m[0] == "display_data"]
    assert len(shown) == 1, messages
    display_id = shown[0][1]
    assert display_id, "the progress output has a display id"
    updates = [m for m in messages if m[0] == "update_display_data"]
    assert len(updates) >= 2, "progress updates arrive while the run runs"
    assert {m[1] for m in updates} == {display_id}
    return str(display_id)


@pytest.mark.parametrize("tag", ["dag-run", "flow-run"])
def test_a_run_with_progress_is_one_output_updated_in_place(executed: Executed, tag: str) -> None:
    display_id = one_updated_display(executed.messages[tag])
    outputs = executed.outputs[tag]
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs
    final = outputs[0]["data"]["text/plain"]
    assert "Task runs" in final
    assert "finished in state" in final
    assert "<pre" in outputs[0]["data"]["text/html"]
    first = executed.messages[tag][0][2]
    assert "finished in state" not in first, "the output began as the live table"
    assert executed.messages[tag][-1] == ("update_display_data", display_id, final)


def test_the_dag_summary_lists_each_task_with_its_state(executed: Executed) -> None:
    final = executed.outputs["dag-run"][0]["data"]["text/plain"]
    assert final.count("Success") >= 3
    assert "pause#3" in final


def test_a_submitted_run_keeps_updating_its_output_while_later_cells_run(
    executed: Executed,
) -> None:
    shown = executed.messages["submit"]
    assert [m[0] for m in shown][:1] == ["display_data"], shown
    display_id = shown[0][1]
    later = [m for m in executed.messages["submit-wait"] if m[0] == "update_display_data"]
    assert later, "the output is updated from the background while the next cell runs"
    assert {m[1] for m in later} == {display_id}
    assert not [m for m in executed.messages["submit-wait"] if m[0] == "display_data"]
    outputs = executed.outputs["submit"]
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs
    assert "Completed 3" in outputs[0]["data"]["text/plain"]
    assert "finished in state Completed" in outputs[0]["data"]["text/plain"]
