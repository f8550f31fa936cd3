"""Whole numbers in text from clients and people: headers, form fields, paths, options.

``str.isdigit`` is true for "²" and "①", which ``int`` refuses with a ValueError (a 500 where
the caller checked first), and ``int`` reads the digits of other scripts too; here a number
is ASCII digits only.
"""

from __future__ import annotations

import math

# Longer digit strings are no count, id or size here (and ``int`` refuses more than 4300).
MAX_DIGITS = 30
# The last second (9999-12-31 23:59:59 UTC) that dates in HTTP headers, pages and Python's
# time functions can be written for: a later time stored would break every answer showing it.
LATEST_TIME = 253_402_300_799


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative int when it is at most ``MAX_DIGITS`` ASCII digits."""
    if len(text) > MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def storable_time(seconds: float) -> bool:
    """Whether ``seconds`` (since 1970) is a time a file or link may keep: finite, not before
    1970 and not after ``LATEST_TIME``."""
    return math.isfinite(seconds) and 0 <= seconds <= LATEST_TIME
