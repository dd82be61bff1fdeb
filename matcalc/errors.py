"""matcalc's own error type, the base of every error the public API raises.

An error's message is one line: input quoted in it that holds a newline, a
tab or another control character is shown escaped, and a very long message loses its middle.

>>> str(MatcalcError("unexpected 'a\\nb' at column 3"))
"unexpected 'a\\\\nb' at column 3"
"""

from __future__ import annotations

MAX_MESSAGE = 500  # characters of a message; a longer one loses its middle (its end names the position)


def one_line(message: str) -> str:
    """``message`` on one line: control characters escaped, at most ``MAX_MESSAGE`` characters.

    >>> one_line("a\\nb\\tc")
    'a\\\\nb\\\\tc'
    """
    if not isinstance(message, str):
        message = str(message)
    if not message.isprintable():
        message = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                          for ch in message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 105] + " ... " + message[-100:]
    return message


class MatcalcError(ValueError):
    """Bad input to matcalc, or a construct it cannot handle: the message is one line."""

    def __init__(self, message: object = "", *args):
        super().__init__(one_line(message), *args)


class TooLargeError(MatcalcError):
    """The input, or the work it asks for, is larger than matcalc's bounds; the message says which bound."""
