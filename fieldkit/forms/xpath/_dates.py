"""Dates and times in expressions, after ODK Web Forms (``@getodk/xpath``) and the XForms spec.

ODK treats a date as a number of days since 1970-01-01 that prints as a date: ``today()`` is
such a value, ``today() + 1`` is a number, and a node holding ``2020-05-01`` compares with
``today()`` numerically. :class:`DateValue` is a ``float`` (the days, fractional for a
dateTime) that carries its text, so every numeric rule applies to it unchanged and
``string()`` writes ``2020-05-01`` or ``2020-05-01T10:30:00.000+03:00`` (ODK's form: dates at
midnight print as the bare date, see ``localDateTimeOrDateString`` in Web Forms).

Dates without an offset are read in the machine's local time zone, like ODK's engines.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["DateValue", "date_value", "days_to_datetime", "format_datetime", "parse_datetime"]

_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ODK Web Forms' ISO_DATE_OR_DATE_TIME_LIKE_PATTERN: a date, optionally with a time (HH, HH:MM,
# HH:MM:SS or HH:MM:SS.fff) and an offset.
_DATE_OR_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[-+]\d{2}:\d{2})?)?\Z"
)
_VALID_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d\Z")


class DateValue(float):
    """Days since the epoch (a number for arithmetic) that prints as an ODK date/dateTime."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, moment: datetime) -> DateValue:
        value = super().__new__(cls, (moment - _EPOCH) / _DAY)
        value.text = format_datetime(moment)
        return value

    @classmethod
    def with_text(cls, days: float, text: str) -> DateValue:
        """A day count with an explicit printed form."""
        value = float.__new__(cls, days)
        value.text = text
        return value


def local_zone() -> tzinfo:
    """The machine's local time zone."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def parse_datetime(text: str) -> datetime | None:
    """An aware datetime for a date or dateTime string (local zone when it has no offset).

    None when it is not one, or when it falls outside the years 1–9999 once in local time.
    """
    try:
        return _parse_datetime(text)
    except (ValueError, OverflowError):
        return None


def _parse_datetime(text: str) -> datetime | None:
    match = _DATE_OR_DATETIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
    )
    if zone is None:
        return moment.astimezone()  # naive → the machine's local zone
    if zone == "Z":
        return moment.replace(tzinfo=UTC).astimezone()
    if not _VALID_OFFSET.match(zone):
        return None
    sign = -1 if zone[0] == "-" else 1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    from datetime import timezone

    return moment.replace(tzinfo=timezone(sign * offset)).astimezone()


def days_to_datetime(days: float) -> datetime | None:
    """The local moment ``days`` days after 1970-01-01T00:00Z; None for NaN or out of range."""
    if math.isnan(days) or math.isinf(days):
        return None
    try:
        return (_EPOCH + timedelta(milliseconds=round(days * 86_400_000))).astimezone()
    except (OverflowError, ValueError):
        return None


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_datetime(moment: datetime) -> str:
    """ODK's text for a moment: the bare date at local midnight, else full ISO with offset."""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}"
        + _offset_text(moment)
    )


def date_value(text: str) -> DateValue | None:
    """The DateValue of a date/dateTime string, or None when it is not one."""
    moment = parse_datetime(text)
    return None if moment is None else DateValue(moment)
