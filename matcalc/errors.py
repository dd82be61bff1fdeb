"""matcalc's own error type, the base of every error the public API raises.

An error's message is one line: input quoted in it that holds a newline, a
tab or another control character is shown escaped, a name longer than
``MAX_NAME`` characters is cut short with an ellipsis, and a very long message
loses its middle.

>>> str(MatcalcError("unexpected 'a\\nb' at column 3"))
"unexpected 'a\\\\nb' at column 3"
"""

from __future__ import annotations

import re

MAX_NAME = 30  # characters of a name quoted in a message; a longer one ends in "..."
MAX_MESSAGE = 500  # characters of a message; a longer one loses its middle (its end names the position)


# A name: a run of word characters that starts with a letter and is not part of a file path.
_LONG_NAME = re.compile(r"(?<![\w/\\])([A-Za-z_]\w{%d})\w+(?![\w/\\]|\.[A-Za-z])" % (MAX_NAME - 1))


def clip_names(message: str) -> str:
    """``message`` with every name longer than ``MAX_NAME`` characters cut to its first ``MAX_NAME`` and "...".

    A message quotes a long name several times; this keeps it readable.  Path-like
    words (next to a slash or before an extension) are left whole.

    >>> clip_names("unknown name '" + "a" * 40 + "' at column 1")
    "unknown name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' at column 1"
    >>> clip_names("cannot read /tmp/" + "d" * 40 + "/data.csv")[-9:]
    '/data.csv'
    """
    return _LONG_NAME.sub(r"\1...", message)


def one_line(message: str) -> str:
    """``message`` on one line: control characters escaped, long names clipped, at most ``MAX_MESSAGE`` characters.

    >>> one_line("a\\nb\\tc")
    'a\\\\nb\\\\tc'
    """
    if not isinstance(message, str):
        message = str(message)
    if not message.isprintable():
        message = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                          for ch in message)
    message = clip_names(message)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 105] + " ... " + message[-100:]
    return message


class MatcalcError(ValueError):
    """Bad input to matcalc, or a construct it cannot handle: the message is one line."""

    def __init__(self, message: object = "", *args):
        super().__init__(one_line(message), *args)


class TooLargeError(MatcalcError):
    """The input, or the work it asks for, is larger than matcalc's bounds; the message says which bound."""
