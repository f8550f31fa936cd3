"""Whole numbers in text from clients and people: headers, form fields, paths, options.

``str.isdigit`` is true for "²" and "①", which ``int`` refuses with a ValueError (a 500 where
the caller checked first), and ``int`` reads the digits of other scripts too; here a number
is ASCII digits only.
"""

from __future__ import annotations


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative int when it is ASCII digits only, else None."""
    return int(text) if text.isascii() and text.isdigit() else None


# The last second (9999-12-31 23:59:59 UTC) that dates in HTTP headers, pages and Python's
# time functions can be written for: a later time stored would break every answer showing it.
LATEST_TIME = 253_402_300_799
