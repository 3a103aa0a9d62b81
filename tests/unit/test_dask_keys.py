"""Dask keys and resources for task runs (``orchestrator.task_runners.dask.keys``): pure."""

from __future__ import annotations

import pytest
from dask.utils import key_split

from orchestrator.task_runners.dask.keys import (
    ResourceTagError,
    batch_key,
    resources_from_tags,
    run_token,
    slice_key,
    task_run_key,
)


def test_keys_put_the_task_name_first_so_dask_groups_runs_by_task() -> None:
    token = run_token({"flow_run_id": "9a8b7c6d-1111-2222-3333-444455556666"})
    assert token == "9a8b7c6d"
    keys = [
        task_run_key("add_one-1f2e3d4c-17", token),
        batch_key("add_one-1f2e3d4c-0", 0, 99, token),
        slice_key("add_one-1f2e3d4c-0", 0, 4, token),
    ]
    assert keys == [
        "add_one-1f2e3d4c-17-9a8b7c6d",
        "add_one-1f2e3d4c-0-99-9a8b7c6d",
        "add_one-1f2e3d4c-0-slice-0-4-9a8b7c6d",
    ]
    assert {key_split(key) for key in keys} == {"add_one"}


def test_a_flow_run_without_an_id_still_gets_a_token() -> None:
    assert len(run_token({})) == 8


def test_resource_tags_become_dask_resources() -> None:
    assert resources_from_tags(
        "train", ["dask-resource:GPU=1", "dask-resource:MEM=2e9", "nightly"]
    ) == {"GPU": 1.0, "MEM": 2e9}
    assert resources_from_tags("plain", ["nightly"]) is None


@pytest.mark.parametrize(
    "tag",
    ["dask-resource:GPU", "dask-resource:GPU=one", "dask-resource:=1", "dask-resource:GPU=-1"],
)
def test_a_malformed_resource_tag_is_an_error_naming_the_task_and_the_fix(tag: str) -> None:
    with pytest.raises(ResourceTagError, match=r"Task 'train': tag .* dask-resource:NAME=AMOUNT"):
        resources_from_tags("train", [tag])
