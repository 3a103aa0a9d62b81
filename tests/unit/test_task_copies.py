"""The copy a flow makes at every task call: an independent task with the same options."""

from __future__ import annotations

import copy
import re
from typing import Any

from orchestrator import Flow, Task, task


@task(name="inc", tags=["cpu"])
def inc(x: int) -> int:
    return x + 1


def test_each_call_adds_an_independent_copy_with_its_own_slug_tags_and_dependencies():
    with Flow("copies") as flow:
        first, second = inc(x=1), inc(x=2)
    assert flow.tasks == {first, second}
    assert inc not in flow.tasks
    for made in (first, second):
        assert type(made) is type(inc)
        assert (made.name, made.tags, made.run) == ("inc", {"cpu"}, inc.run)
        assert made._template is inc
        assert re.fullmatch(r"inc-[0-9a-f]{8}", made.slug)
    assert len({inc.slug, first.slug, second.slug}) == 3
    first.tags.add("gpu")
    first.dependencies.append("marker")
    assert (inc.tags, second.tags) == ({"cpu"}, {"cpu"})
    assert (inc.dependencies, second.dependencies) == ([], [])
    assert flow.constants[first] == {"x": 1}
    assert flow.constants[second] == {"x": 2}


def test_a_copy_of_a_copy_keeps_the_first_template():
    with Flow("twice") as flow:
        made = inc(x=1)
        again = made(x=2)
    assert again._template is inc
    assert again in flow.tasks


class CountedCopies(Task):
    """A task class with its own ``__copy__``: flows must still use it."""

    copies = 0

    def __copy__(self) -> CountedCopies:
        CountedCopies.copies += 1
        new = CountedCopies.__new__(CountedCopies)
        new.__dict__.update(self.__dict__)
        return new

    def run(self, x: int) -> int:
        return x


class StatefulCopies(Task):
    """A task class with its own pickling state: copies go through it, as copy.copy does."""

    def __init__(self) -> None:
        super().__init__(name="stateful")
        self.scratch = ["kept out of copies"]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["scratch"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def run(self) -> int:
        return 1


def test_a_class_with_its_own_copy_protocol_is_copied_by_it():
    original = CountedCopies(name="counted")
    before = CountedCopies.copies
    with Flow("counted"):
        made = original(x=3)
    assert CountedCopies.copies == before + 1
    assert made is not original
    assert made.name == "counted"

    stateful = StatefulCopies()
    with Flow("stateful"):
        made_stateful = stateful()
    assert made_stateful.scratch == []
    assert stateful.scratch == ["kept out of copies"]
    assert copy.copy(stateful).scratch == []
