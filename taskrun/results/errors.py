"""Errors of results and targets: the exceptions inside the states they fail.

The executor never raises them: each becomes the result of a ``Failed`` state (or, for
``Result.read`` / ``write`` called directly, is raised to the caller). They travel inside
states between processes, so each pickles (every constructor argument goes to
``super().__init__``) and builds its text in ``__str__``.
"""

from __future__ import annotations

from collections.abc import Sequence

#: how many available keys a template error lists before "and N more"
_SHOWN_KEYS = 30


class ResultError(Exception):
    """Base of the result errors."""


class ResultWriteError(ResultError):
    """A result could not be written (checkpoint or target): the location and the cause."""

    def __init__(self, location: str, cause: str, task_name: str | None = None) -> None:
        super().__init__(location, cause, task_name)
        self.location = location
        self.cause = cause
        self.task_name = task_name

    def __str__(self) -> str:
        who = f"Task {self.task_name!r}: " if self.task_name else ""
        return (
            f"{who}cannot write its result to {self.location!r}: {self.cause}. Check that "
            "the location is writable from where the task runs (directory permissions, "
            "bucket and credentials), or point the task's result/target elsewhere."
        )


class ResultReadError(ResultError):
    """A stored result could not be read back: the location and the cause."""

    def __init__(self, location: str, cause: str, task_name: str | None = None) -> None:
        super().__init__(location, cause, task_name)
        self.location = location
        self.cause = cause
        self.task_name = task_name

    def __str__(self) -> str:
        who = f"Task {self.task_name!r}: " if self.task_name else ""
        return (
            f"{who}cannot read the stored result at {self.location!r}: {self.cause}. The "
            "file may be missing, truncated, or written with another serializer; delete it "
            "to recompute the task, or give the result the serializer that wrote it."
        )


class TargetTemplateError(ResultError, KeyError):
    """A target or location template names a key that the run does not have."""

    def __init__(
        self, template: str, missing: str, available: Sequence[str], task_name: str | None = None
    ) -> None:
        super().__init__(template, missing, list(available), task_name)
        self.template = template
        self.missing = missing
        self.available = sorted(available)
        self.task_name = task_name

    def __str__(self) -> str:
        who = f"Task {self.task_name!r}: " if self.task_name else ""
        shown = ", ".join(self.available[:_SHOWN_KEYS])
        more = len(self.available) - _SHOWN_KEYS
        if more > 0:
            shown += f" and {more} more"
        return (
            f"{who}target {self.template!r} names {{{self.missing}}}, which this run does "
            f"not have. Available keys: {shown}. Use one of them, or pass the value as a "
            "parameter or an argument of the task."
        )


class CacheValidatorError(ResultError):
    """A task's cache validator raised instead of answering True or False."""

    def __init__(self, task_name: str, validator: str, error: str) -> None:
        super().__init__(task_name, validator, error)
        self.task_name = task_name
        self.validator = validator
        self.error = error

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r}: cache validator {self.validator!r} raised {self.error}. "
            "A validator is called as validator(entry, inputs, parameters) and returns a bool; "
            "fix it, or use one of orchestrator.engine.cache_validators."
        )
