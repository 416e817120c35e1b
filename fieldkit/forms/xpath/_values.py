"""XPath 1.0 values and the conversions between them (XPath 1.0 §4), with ODK's departures.

A value is a ``str``, a ``float``, a ``bool`` or a node-set (a ``list``/``tuple`` of nodes in
document order, without duplicates). Departures from XPath 1.0, after ODK's engines:

- numbers are written like JavaScript's ``Number.prototype.toString`` (ODK Web Forms): ``3``
  not ``3.0``, ``1e-7``, ``Infinity``;
- a date (``YYYY-MM-DD``) or dateTime string converts to a number as days since 1970-01-01
  (ODK XForms spec, "Dates": "dates are converted to numbers as the number of days since the
  epoch"), so ``${end} - ${start}`` and ``today() > ${dob}`` work;
- NaN is written as the empty string (Web Forms' NumberEvaluation), not ``NaN``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Union

from ._dates import DateValue, parse_datetime

if TYPE_CHECKING:
    from ._context import Node

__all__ = [
    "Value",
    "format_number",
    "is_nodeset",
    "string_to_number",
    "to_boolean",
    "to_number",
    "to_output_text",
    "to_string",
]

Value = Union[str, float, bool, Sequence["Node"]]  # noqa: UP007 - a string forward reference

NAN = math.nan

# ODK Web Forms converts strings with JavaScript's Number() (wider than XPath 1.0 §4.4: it also
# takes "+1", "1e3", "Infinity" and "0x1F"); we follow the engine forms are checked against.
_JS_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Infinity)\Z")
_JS_RADIX = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


SCALAR = (str, float, bool)
"""The types of the values that are not node-sets (for isinstance checks)."""


def is_nodeset(value: Value) -> bool:
    """True when ``value`` is a node-set."""
    return not isinstance(value, str | float | bool)


def format_number(value: float) -> str:
    """A number as XPath's string(): integers without ``.0``, otherwise JavaScript's form."""
    if value != value:
        # ODK Web Forms' NumberEvaluation: "Number.isNaN(value) ? '' : String(value)"; ODK
        # writes NaN as empty everywhere, not only in submissions.
        return ""
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    # Shortest round-trip digits (Python's repr and JavaScript agree), laid out as JavaScript
    # does: plain decimals from 1e-6 up to 1e21, exponent notation outside.
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point from the left of the digits
    if -6 < point <= 21:
        if point <= 0:
            out = "0." + "0" * (-point) + text
        elif point >= len(text):
            out = text + "0" * (point - len(text))
        else:
            out = text[:point] + "." + text[point:]
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        e = point - 1
        out = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return ("-" if sign else "") + out


def to_string(value: Value) -> str:
    """XPath 1.0 string()."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if isinstance(value, DateValue):
            return value.text
        return format_number(value)
    return value[0].text() if value else ""


_NUMBER_CACHE: dict[str, float] = {}


def string_to_number(text: str) -> float:
    """number() of a string (see :func:`_string_to_number`), memoised: answers repeat."""
    number = _NUMBER_CACHE.get(text)
    if number is None:
        if len(_NUMBER_CACHE) >= 4096:
            _NUMBER_CACHE.clear()
        number = _NUMBER_CACHE[text] = _string_to_number(text)
    return number


def _string_to_number(text: str) -> float:
    """number() of a string: JavaScript's Number() (ODK Web Forms), a date as days, else NaN.

    An empty or blank string is NaN (ODK: "empty compares as NaN"), not 0 as in JavaScript.
    """
    stripped = text.strip()
    if not stripped:
        return NAN
    try:
        # Fast path: Python's float() takes what Number() takes for decimal text, plus a few
        # spellings JavaScript refuses ("nan", "inf", "1_000"), which are sent back below.
        number = float(stripped)
    except ValueError:
        pass
    else:
        if number == number and abs(number) != math.inf and "_" not in stripped:
            return number
        if _JS_NUMBER.match(stripped):
            return number
        return NAN
    if _JS_RADIX.match(stripped):
        return float(int(stripped, 0))
    moment = parse_datetime(stripped)
    if moment is None:
        return NAN
    return (moment - _EPOCH) / timedelta(days=1)


def to_number(value: Value) -> float:
    """XPath 1.0 number() (an empty string is NaN, a date string is days since the epoch)."""
    if isinstance(value, float):
        return value
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return string_to_number(value)
    return string_to_number(value[0].text()) if value else NAN


def to_boolean(value: Value) -> bool:
    """XPath 1.0 boolean()."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0 and value == value
    if isinstance(value, str):
        return value != ""
    return len(value) > 0


def to_output_text(value: Value) -> str:
    """The text a submission holds for a result: string(), where NaN is already the empty
    string (ODK: "NaN is written as empty") and ±Infinity is ``Infinity``/``-Infinity``."""
    return to_string(value)
