"""One family of domain errors. Every message is Chinese and shown to the user as it is."""

from __future__ import annotations


class HotlineError(Exception):
    """A refusal or a bad input. ``message`` is the Chinese text the user sees."""

    exit_code = 2

    def __init__(self, message: str, *, rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule

    def __str__(self) -> str:
        return self.message


class RuleViolation(HotlineError):
    """The action is forbidden by a rule of the active policy profile (the message cites the article)."""


class PermissionDenied(HotlineError):
    """The actor's role or unit scope does not allow this."""


class NotFound(HotlineError):
    """A ticket, unit, user or entry that does not exist."""


class InvalidInput(HotlineError):
    """Malformed input: a bad date, an unknown code, an empty required field."""


class ConcurrentUpdate(HotlineError):
    """Somebody else changed the same order first."""

    def __init__(self, what: str = "该工单") -> None:
        super().__init__(f"{what}已被他人修改，请刷新后重试（操作未生效）")


class PolicyError(HotlineError):
    """A policy profile file is malformed; the message names the file and the key."""


class CalendarError(HotlineError):
    """A holiday override file is malformed."""
