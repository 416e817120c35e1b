"""Date and time functions (ODK XForms spec), dates as days since 1970-01-01."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ._context import EvalContext
from ._dates import DateValue, days_to_datetime, parse_datetime
from ._registry import (
    FUNCTIONS,
    NAN,
    _register,
)
from ._values import Value, to_string

# -- dates ------------------------------------------------------------------------------------


def _now(ctx: EvalContext) -> datetime:
    moment = ctx.now()
    return moment if moment.tzinfo is not None else moment.astimezone()


@_register("now", 0, 0)
def _now_fn(ctx: EvalContext, args: list[Value]) -> Value:
    return DateValue(_now(ctx))


@_register("today", 0, 0)
def _today(ctx: EvalContext, args: list[Value]) -> Value:
    moment = _now(ctx)
    return DateValue(moment.replace(hour=0, minute=0, second=0, microsecond=0))


def _to_datetime(value: Value) -> datetime | None:
    if isinstance(value, DateValue):
        return days_to_datetime(float(value))
    if isinstance(value, float):
        return days_to_datetime(value)
    if isinstance(value, bool):
        return None
    return parse_datetime(to_string(value).strip())


_UNPADDED = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(T.*)?\Z")


@_register("date", 1, 1)
def _date(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: date(x) converts a number of days or a date string to a date; Web Forms also
    # accepts unpadded months and days ("2020-1-5").
    value = args[0]
    if isinstance(value, bool):
        return ""
    if not isinstance(value, float):
        text = to_string(value).strip()
        if text == "":
            return ""
        match = _UNPADDED.match(text)
        if match and parse_datetime(text) is None:
            text = f"{match[1]}-{int(match[2]):02d}-{int(match[3]):02d}{match[4] or ''}"
        value = text
    moment = _to_datetime(value)
    return DateValue(moment) if moment is not None else NAN


FUNCTIONS["date-time"] = FUNCTIONS["date"]


@_register("decimal-date-time", 1, 1)
def _decimal_date_time(ctx: EvalContext, args: list[Value]) -> Value:
    moment = _to_datetime(args[0])
    return NAN if moment is None else float(DateValue(moment))


_TIME = re.compile(r"(\d{2}):(\d{2})(?::([0-5]\d))?(\.\d+)?(Z|[-+]\d{2}:\d{2})?\Z")


@_register("decimal-time", 1, 1)
def _decimal_time(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: the time of day as a fraction of a day, in the time's own offset converted to local.
    text = to_string(args[0]).strip()
    match = _TIME.match(text)
    # Web Forms validates with Temporal.PlainTime.from, which refuses a "Z" designator.
    if match is None or match[5] == "Z" or int(match[1]) > 23 or int(match[2]) > 59:
        return NAN
    moment = parse_datetime(f"1970-01-01T{text}")
    if moment is None:
        return NAN
    local = moment.replace(tzinfo=None)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - midnight) / timedelta(days=1)


_SHORT_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_SHORT_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _date_formatters(moment: datetime, *, with_time: bool) -> dict[str, str]:
    # ODK XForms spec, format-date-time: %Y %y %m %n %b %d %e %a, and %H %h %M %S %3 for time.
    out = {
        "%Y": f"{moment.year:04d}",
        "%y": f"{moment.year:04d}"[2:],
        "%m": f"{moment.month:02d}",
        "%n": str(moment.month),
        "%b": _SHORT_MONTHS[moment.month - 1],
        "%d": f"{moment.day:02d}",
        "%e": str(moment.day),
        "%a": _SHORT_DAYS[moment.weekday()],
    }
    if with_time:
        out.update(
            {
                "%H": f"{moment.hour:02d}",
                "%h": str(moment.hour),
                "%M": f"{moment.minute:02d}",
                "%S": f"{moment.second:02d}",
                "%3": f"{moment.microsecond // 1000:03d}",
            }
        )
    return out


_FORMAT_DATE = re.compile(r"%[Yymnbdea]")
_FORMAT_DATE_TIME = re.compile(r"%[YymnbdeaHhMS3]")


def _format(args: list[Value], *, with_time: bool) -> str:
    value = args[0]
    if isinstance(value, float) and not isinstance(value, DateValue):
        # Web Forms reads format-date's first argument as a string: a plain number is no date.
        moment = None
    else:
        moment = _to_datetime(value)
    if moment is None:
        return ""
    table = _date_formatters(moment, with_time=with_time)
    pattern = _FORMAT_DATE_TIME if with_time else _FORMAT_DATE
    return pattern.sub(lambda m: table[m.group(0)], to_string(args[1]))


@_register("format-date", 2, 2)
def _format_date(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK Web Forms makes format-date an alias of format-date-time (Enketo's behaviour), so
    # time patterns work in it too.
    return _format(args, with_time=True)


@_register("format-date-time", 2, 2)
def _format_date_time(ctx: EvalContext, args: list[Value]) -> Value:
    return _format(args, with_time=True)
