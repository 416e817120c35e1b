"""Typed answers: the text a user types → the text a submission holds, per question type.

Two entry points with different strictness, as ODK has:

- ``parse_answer`` is what a person (or ``forms eval``'s ``set``) gives: a value that does not
  fit the type is refused with ``AnswerError`` and a plain message ("not a whole number").
- ``coerce_computed`` is what a calculation, default or ``once()`` writes into a typed node:
  never refused, but converted the way ODK's engines convert (XForms 1.0 §4.2 type coercion as
  JavaRosa's IntegerData/DecimalData do it): an integer truncates toward zero, a value that is
  not a number becomes empty, NaN is written as empty.

Messages never repeat the value (it may be personal data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time

from fieldkit.errors import AnswerError

__all__ = ["coerce_answer", "coerce_computed", "order_choices", "parse_answer", "parse_number"]

_INT = re.compile(r"\s*[+-]?\d+\s*\Z")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")
_DATE = re.compile(r"-?\d{4,}-\d{2}-\d{2}\Z")
# ODK Web Forms' time and dateTime codecs want seconds ("10:30:00", offset optional) and a "T".
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?\Z")
_DATETIME = re.compile(r"(-?\d{4,}-\d{2}-\d{2})T(.+)\Z")
_ACK = frozenset({"ok", "yes", "true", "1"})

#: JavaRosa stores int answers as a 32-bit Java int (IntegerData); bigger is not an integer.
INT_MAX = 2**31 - 1


def parse_number(text: str) -> float:
    """XPath number(): a decimal numeral with optional sign, else NaN."""
    if not _DECIMAL.match(text):
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _format_decimal(value: float) -> str:
    """A decimal node's text as ODK writes it: whole numbers keep one decimal ("10.0"), as
    JavaRosa's DecimalData (Java's Double.toString) and the Web Forms decimal codec do."""
    from fieldkit.forms.xpath import format_number

    if value == int(value):
        whole = f"{int(value)}.0"
        return "-" + whole if math.copysign(1.0, value) < 0 and int(value) == 0 else whole
    return format_number(value)


def _check_date(text: str) -> None:
    if not _DATE.match(text):
        raise AnswerError("not a date (use YYYY-MM-DD)")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise AnswerError("not a valid date") from None


def _check_time(text: str) -> None:
    match = _TIME.match(text)
    if not match:
        raise AnswerError("not a time (use HH:MM:SS)")
    try:
        time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    except ValueError:
        raise AnswerError("not a valid time") from None


def _check_datetime(text: str) -> None:
    match = _DATETIME.match(text)
    if not match:
        raise AnswerError("not a date and time (use YYYY-MM-DDTHH:MM:SS)")
    _check_date(match.group(1))
    try:
        _check_time(match.group(2))
    except AnswerError:
        raise AnswerError("not a valid date and time") from None


def _geo_point(text: str) -> str:
    parts = text.split()[:4]  # ODK keeps latitude, longitude, altitude and accuracy only
    if len(parts) not in {2, 3, 4}:
        raise AnswerError("not a location (use 'latitude longitude [altitude accuracy]')")
    numbers = [parse_number(p) for p in parts]
    if any(math.isnan(n) or math.isinf(n) for n in numbers):
        raise AnswerError("not a location (the parts must be numbers)")
    if not -90 <= numbers[0] <= 90 or not -180 <= numbers[1] <= 180:
        raise AnswerError("not a location (latitude -90..90, longitude -180..180)")
    if len(numbers) == 4 and numbers[3] < 0:
        raise AnswerError("not a location (accuracy cannot be negative)")
    # Each part written as a decimal, as ODK Web Forms' geopoint codec writes it ("12.0 36.0").
    return " ".join(_format_decimal(n) for n in numbers)


def order_choices(values: Sequence[str], choices: Sequence[str]) -> list[str]:
    """Selected values in choice-list order, without duplicates (ODK's select_multiple order)."""
    chosen = set(values)
    return [name for name in dict.fromkeys(choices) if name in chosen]


def parse_answer(
    kind: str,
    text: str,
    *,
    data_type: str = "string",
    choices: Sequence[str] = (),
    parameters: dict[str, str] | None = None,
) -> str:
    """The stored text for a person's answer ``text`` to a question of XLSForm type ``kind``.

    Raises AnswerError with a plain message when the value does not fit. The empty text always
    fits (it clears the answer; ``required`` is checked separately).
    """
    text = str(text)
    if text.strip() == "" and kind not in {"text", "barcode"}:
        return ""
    if text == "":
        return ""
    params = parameters or {}
    if kind in {"integer"} or (kind == "range" and data_type == "int"):
        if not _INT.match(text):
            raise AnswerError("not a whole number")
        value = int(text)
        if abs(value) > INT_MAX:
            raise AnswerError("the number is too large")
        if kind == "range":
            _check_range(float(value), params)
        return str(value)
    if kind in {"decimal", "range"}:
        number = parse_number(text)
        if math.isnan(number) or math.isinf(number):
            raise AnswerError("not a number")
        if kind == "range":
            _check_range(number, params)
        return _format_decimal(number)
    if kind == "date":
        text = text.strip()
        if _DATETIME.match(text):
            text = text.split("T", 1)[0]  # ODK keeps the date of a date-time
        _check_date(text)
        return text
    if kind == "time":
        text = text.strip()
        _check_time(text)
        return text
    if kind == "dateTime":
        text = text.strip()
        _check_datetime(text)
        return text
    if kind == "geopoint":
        return _geo_point(text.strip())
    if kind in {"geotrace", "geoshape"}:
        points = [p.strip() for p in text.strip().split(";") if p.strip()]
        if len(points) < (3 if kind == "geoshape" else 2):
            raise AnswerError(f"a {kind} needs more points")
        return ";".join(_geo_point(p) for p in points)
    if kind in {"select_one", "select_one_external"}:
        chosen = text.strip()
        if choices and chosen not in choices:
            raise AnswerError("not one of the choices")
        return chosen
    if kind == "select_multiple":
        values = text.split()
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise AnswerError("not one of the choices")
        return " ".join(order_choices(values, choices))
    if kind == "rank":
        values = text.split()
        if len(set(values)) != len(values) or any(v not in choices for v in values):
            raise AnswerError("a ranking lists each choice at most once")
        return " ".join(values)
    if kind in {"acknowledge", "trigger"}:
        if text.strip().lower() not in _ACK:
            raise AnswerError("acknowledge with OK (or leave empty)")
        return "OK"
    if kind == "note":
        raise AnswerError("a note takes no answer")
    return text


def _check_range(value: float, params: dict[str, str]) -> None:
    start = parse_number(params.get("start", "1"))
    end = parse_number(params.get("end", "10"))
    low, high = (start, end) if start <= end else (end, start)
    if not math.isnan(low) and not math.isnan(high) and not low <= value <= high:
        raise AnswerError("outside the allowed range")


def coerce_computed(data_type: str, text: str) -> str:
    """What a computed value becomes in a node of ``data_type`` (int, decimal, string, ...)."""
    if text == "":
        return ""
    if data_type == "int":
        # JavaRosa IntegerData / Web Forms int codec: number → truncate toward zero; a value that
        # is not a number (or NaN/Infinity) becomes empty.
        number = parse_number(text)
        if math.isnan(number) or math.isinf(number):
            return ""
        return str(int(number))
    if data_type == "decimal":
        number = parse_number(text)
        if math.isnan(number) or math.isinf(number):
            return ""
        return _format_decimal(number)
    return text


def now_text(moment: datetime) -> str:
    """ODK's dateTime text: ``2026-11-28T12:00:00.000+01:00``."""
    offset = moment.strftime("%z") or "+0000"
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}"
        + (offset[:3] + ":" + offset[3:])
    )


def coerce_answer(
    kind: str,
    text: str,
    *,
    data_type: str = "string",
    choices: Sequence[str] = (),
    parameters: dict[str, str] | None = None,
) -> str:
    """What ODK Web Forms stores for a value ``parse_answer`` refuses (``forms eval`` applies
    it after reporting the error, so the state stays comparable with ODK's): a number for an
    integer is truncated, anything else that does not fit becomes empty, and a select keeps
    only the values that are choices."""
    if kind == "integer" or (kind == "range" and data_type == "int"):
        number = parse_number(text.strip())
        if math.isnan(number) or math.isinf(number):
            return ""
        value = int(number)
        if kind == "range":
            try:
                _check_range(float(value), parameters or {})
            except AnswerError:
                return ""
        return str(value) if abs(value) <= INT_MAX else ""
    if kind == "select_multiple":
        return " ".join(order_choices(text.split(), choices))
    if kind == "rank":
        allowed = set(choices)
        return " ".join(dict.fromkeys(v for v in text.split() if v in allowed))
    if kind in {"acknowledge", "trigger"}:
        return "OK" if text.strip() else ""
    return ""
