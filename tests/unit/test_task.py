"""Tasks: creation-time checks, options, copies, calling outside a flow, pickling."""

from __future__ import annotations

import datetime as dt
import pickle

import cloudpickle
import pytest

from orchestrator import Flow, Parameter, Task, task
from orchestrator.errors import TaskDefinitionError
from orchestrator.triggers import all_successful, any_failed


def test_a_task_repr_shows_its_name():
    assert repr(Task(name="load")) == "<Task: load>"
    assert repr(Task()) == "<Task: Task>"


def test_calling_a_task_outside_a_flow_runs_its_body():
    @task
    def double(x):
        return 2 * x

    assert double(4) == 8
    assert double.run(x=5) == 10


def test_mapping_outside_a_flow_says_to_use_a_flow():
    @task
    def double(x):
        return 2 * x

    with pytest.raises(ValueError, match=r"Task 'double': mapping and upstream_tasks need a flow"):
        double.map(x=[1, 2])


def test_the_decorator_accepts_every_documented_option():
    def handler(obj, old, new):
        return new

    @task(
        name="n",
        max_retries=2,
        retry_delay=dt.timedelta(seconds=1),
        timeout=3,
        trigger=any_failed,
        state_handlers=[handler],
        on_failure=print,
        tags=["a"],
        skip_on_upstream_skip=False,
        retry_on=[KeyError],
        log_stdout=True,
        batch_size=10,
    )
    def body():
        pass

    assert (body.name, body.max_retries, body.retry_delay, body.timeout) == (
        "n",
        2,
        dt.timedelta(seconds=1),
        3.0,
    )
    assert body.trigger is any_failed
    assert body.state_handlers == [handler]
    assert body.tags == {"a"}
    assert body.skip_on_upstream_skip is False
    assert body.retry_on == (KeyError,)
    assert (body.log_stdout, body.batch_size) == (True, 10)


def test_the_default_options():
    plain = Task()
    assert (plain.max_retries, plain.retry_delay, plain.timeout) == (0, None, None)
    assert plain.trigger is all_successful
    assert plain.skip_on_upstream_skip is True
    assert plain.state_handlers == []


def test_max_retries_without_retry_delay_is_a_value_error_naming_the_task():
    with pytest.raises(ValueError, match=r"Task 'flaky': max_retries=3 needs a retry_delay"):

        @task(max_retries=3)
        def flaky():
            pass


def test_a_retry_delay_in_seconds_becomes_a_timedelta():
    assert Task(max_retries=1, retry_delay=0.5).retry_delay == dt.timedelta(seconds=0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_retries": -1, "retry_delay": dt.timedelta(0)}, r"max_retries=-1 is not a count"),
        ({"retry_delay": "soon"}, r"retry_delay='soon' is not a timedelta"),
        ({"timeout": 0}, r"timeout=0 is not a positive number"),
        ({"timeout": True}, r"timeout=True is not a positive number"),
        ({"retry_on": ["KeyError"]}, r"retry_on contains non-exception values"),
        ({"state_handlers": [1]}, r"state_handlers contains non-callables"),
        ({"batch_size": 0}, r"batch_size=0 is not a positive int"),
    ],
)
def test_bad_options_fail_at_creation_naming_the_task_and_the_fix(options, message):
    with pytest.raises(TaskDefinitionError, match=message) as info:
        Task(name="configured", **options)
    assert str(info.value).startswith("Task 'configured': ")


def test_a_task_of_a_non_callable_is_a_type_error():
    with pytest.raises(TypeError, match=r"@task needs a function, got 3"):
        task(3)


def test_a_timeout_given_as_a_timedelta_is_seconds():
    assert Task(timeout=dt.timedelta(minutes=1)).timeout == 60.0


def test_copy_overrides_attributes_and_leaves_the_original_alone():
    original = Task(name="orig", tags=["x"])
    clone = original.copy(name="clone", tags=["y"])
    assert (original.name, original.tags) == ("orig", {"x"})
    assert (clone.name, clone.tags) == ("clone", {"y"})
    assert clone.slug != original.slug


def test_copy_with_an_unknown_attribute_names_it():
    with pytest.raises(
        TaskDefinitionError, match=r"task_args names unknown attributes \['colour'\]"
    ):
        Task(name="t").copy(colour="red")


def test_task_args_that_break_retry_rules_are_rejected():
    with pytest.raises(TaskDefinitionError, match=r"needs a retry_delay"):
        Task(name="t").copy(max_retries=2)


def test_calling_with_an_unknown_argument_shows_the_signature():
    @task
    def add(x, y):
        return x + y

    with (
        pytest.raises(TypeError, match=r"Task 'add': .*Its run\(\) signature is \(x, y\)"),
        Flow("f"),
    ):
        add(z=1)


def test_iterating_a_task_says_to_map_or_index_instead():
    with pytest.raises(TypeError, match=r"Task 'rows' is not iterable: .* Pass nout="):
        list(Task(name="rows"))


def test_a_task_added_to_a_flow_still_pickles_without_its_flow():
    @task
    def add(x, y):
        return x + y

    with Flow("f") as flow:
        total = add(1, 2)
    restored = cloudpickle.loads(cloudpickle.dumps(total))  # a local function: cloudpickle
    assert restored.run(1, 2) == 3
    assert restored._flow_ref is None
    assert total._flow_ref() is flow  # pickling does not detach the original


def test_a_subclass_task_in_a_flow_pickles_with_plain_pickle():
    with Flow("f") as flow:
        copy = Plus(name="plus")(x=1, y=2)
    restored = pickle.loads(pickle.dumps(copy))
    assert restored.run(1, 2) == 3
    assert flow.run().result()[copy].result() == 3


class Plus(Task):
    def run(self, x, y):
        return x + y


def test_parameters_are_not_copied_when_called():
    p = Parameter("p", default=1)
    with Flow("f") as flow:
        assert p() is p
    assert flow.tasks == {p}


def test_a_parameter_cannot_be_renamed_by_a_copy():
    with pytest.raises(ValueError, match=r"Parameter 'p': a copy cannot be renamed"):
        Parameter("p").copy(name="q")


def test_a_parameter_without_a_default_is_required():
    assert Parameter("p").required is True
    assert Parameter("p", default=0).required is False
    assert repr(Parameter("p")) == "<Parameter: p>"


def test_task_full_name_of_a_mapped_child_shows_its_index():
    import orchestrator

    @task
    def add(x):
        return orchestrator.context.task_full_name

    with Flow("names") as flow:
        result = add.map(x=[1, 2, 3])
    assert flow.run().result()[result].result() == ["add[0]", "add[1]", "add[2]"]


def test_a_subclass_that_skips_task_init_gets_an_error_saying_to_call_it():
    class NoInit(Task):
        def __init__(self, factor):
            self.factor = factor

        def run(self, x):
            return x * self.factor

    broken = NoInit(2)
    with pytest.raises(
        AttributeError,
        match=r"NoInit.__init__ did not call Task.__init__\. "
        r"Call super\(\).__init__\(\*args, \*\*kwargs\)",
    ):
        repr(broken)
    with pytest.raises(AttributeError, match=r"did not call Task\.__init__"), Flow("f"):
        broken(x=1)


def test_a_missing_attribute_of_a_complete_task_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match=r"^'Task' object has no attribute 'colour'$"):
        Task().colour  # noqa: B018 - the access is the test
    assert getattr(Task(), "colour", "default") == "default"
