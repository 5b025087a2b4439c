"""One family of domain errors. Every message is Chinese and shown to the user as it is."""

from __future__ import annotations


def visible(text: str) -> str:
    """``text`` safe to print on a terminal: a message often quotes what the user typed, and an escape
    sequence, a right-to-left override or a lone surrogate in it must show as ``\\x1b``, ``\\u202e``,
    ``\\udc80`` instead of acting on (or breaking) the terminal. Newlines and tabs stay."""
    out = []
    for ch in text:
        o = ord(ch)
        if (o < 32 and ch not in "\n\t") or 127 <= o < 160:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF or ch in _INVISIBLE:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


# bidirectional controls, zero-width spaces, word joiner, byte order mark, line/paragraph separators
_INVISIBLE = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2060\ufeff\u2028\u2029"
)


class HotlineError(Exception):
    """A refusal or a bad input. ``message`` is the Chinese text the user sees (made printable)."""

    exit_code = 2

    def __init__(self, message: str, *, rule: str = "") -> None:
        message = visible(message)
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
