"""The run context: the one place that builds the keys a run's tasks see.

Every way of running builds its context here, so the layers always stack the same way
(later wins):

    the current context (config file, ``with context(...)`` blocks)
    -> the caller's overrides (``flow.run(context=...)``, ``TaskRunner.run(context=...)``)
    -> the date keys derived from the resulting ``today`` (``date``, ``yesterday``, ...),
       except those the caller gave explicitly
    -> the run's identity (flow name, flow-run id and name, parameters, start time)

The result is a plain dict, shipped with every task run (so it reaches Dask workers too);
the process-local ``logger`` key is left out.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from taskrun.context import current, date_keys


def run_context(
    overrides: Mapping[str, Any] | None = None,
    *,
    flow_name: str | None = None,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The context keys of one run; identity keys are added when ``flow_name`` is given.

    >>> keys = run_context({"today": "2020-03-02"})
    >>> keys["yesterday"], keys["tomorrow"]
    ('2020-03-01', '2020-03-03')
    """
    keys = {k: v for k, v in current().items() if k != "logger"}
    given = overrides or {}
    keys.update(given)
    dates = date_keys(keys.get("today"))
    keys.update(dates)
    keys.update({k: given[k] for k in given if k in dates and k != "today"})
    if flow_name is not None:
        keys.update(
            flow_name=flow_name,
            flow_run_id=flow_run_id,
            flow_run_name=flow_run_name,
            parameters=dict(parameters or {}),
            scheduled_start_time=_dt.datetime.now(_dt.UTC),
        )
    return keys
