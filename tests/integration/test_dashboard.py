"""The dashboard link the progress display prints serves the Dask dashboard.

Without bokeh the link answered "Dask needs bokeh"; with it (a runtime dependency) the
``/status`` page of an embedded cluster must answer 200 with an HTML page. The link is
read from what the display printed, and fetched only when it names this machine.
"""

from __future__ import annotations

import io
import re
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from orchestrator import Flow, task
from orchestrator.progress import ProgressDisplay

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@task
def one() -> int:
    return 1


def printed_link(cluster_kwargs: dict[str, Any]) -> tuple[str, int, str, str]:
    """Run a flow with progress on an embedded cluster; while it is still open, GET the
    dashboard link the display printed: (link, status, content type, body)."""
    from orchestrator.task_runners import DaskTaskRunner

    with Flow("dashboard") as flow:
        one()
    out = io.StringIO()
    display = ProgressDisplay(console=Console(file=out, width=200), live=False, notebook=False)
    with DaskTaskRunner(cluster_kwargs=cluster_kwargs) as runner:
        state = flow.run(task_runner=runner, progress=display)
        assert state.is_successful(), state
        found = re.search(r"^Dashboard: (\S+)$", out.getvalue(), flags=re.MULTILINE)
        assert found is not None, out.getvalue()
        link = found.group(1)
        assert runner.dashboard_link == link
        host = urlsplit(link).hostname
        assert host in LOOPBACK, f"the embedded cluster's dashboard is local: {link}"
        with urllib.request.urlopen(link, timeout=20) as response:  # loopback only (above)
            body = response.read().decode("utf-8", "replace")
            return link, response.status, response.headers.get("Content-Type", ""), body


@pytest.mark.parametrize(
    "cluster_kwargs",
    [
        pytest.param({"processes": False, "n_workers": 1}, id="threads"),
        pytest.param({"n_workers": 1, "threads_per_worker": 1}, id="processes"),
    ],
)
def test_the_printed_dashboard_link_serves_the_status_page(cluster_kwargs: dict[str, Any]) -> None:
    link, status, content_type, body = printed_link(cluster_kwargs)
    assert link.endswith("/status")
    assert status == 200
    assert content_type.startswith("text/html")
    assert "<html" in body.lower()
    assert "bokeh" in body.lower()
    assert "needs bokeh" not in body.lower()


def test_the_link_names_the_address_the_dashboard_listens_on() -> None:
    from orchestrator.task_runners.dask.dashboard import asked_host, with_host

    assert with_host("http://192.0.2.2:8787/status", "127.0.0.1") == "http://127.0.0.1:8787/status"
    assert with_host("http://127.0.0.1:8787/status", "127.0.0.1") == "http://127.0.0.1:8787/status"
    assert with_host("http://10.0.0.5:8787/status?x=1", "::1") == "http://[::1]:8787/status?x=1"
    local = type(
        "Cluster", (), {"scheduler_spec": {"options": {"dashboard_address": "127.0.0.1:0"}}}
    )
    everywhere = type("Cluster", (), {"scheduler_spec": {"options": {"dashboard_address": ":0"}}})
    assert asked_host(local) == "127.0.0.1"
    assert asked_host(everywhere) is None
    assert asked_host(None) is None
