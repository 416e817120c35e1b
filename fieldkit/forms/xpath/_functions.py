"""The function library: XPath 1.0 core functions and ODK's extensions.

Semantics follow the ODK XForms spec ("Functions", getodk.github.io/xforms-spec) and, where the
spec is silent, ODK Web Forms' ``@getodk/xpath`` (the engine our differential test runs
against). Each entry says how many arguments it takes; the compiler rejects other counts at
load. Functions are called with their arguments already evaluated, except the few compiled
specially at the bottom (``if``, ``current``, ``position``, ``instance``, ``indexed-repeat``…).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import uuid as _uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fieldkit.errors import ExpressionError

from ._ast import Call, Literal, Path, Ref
from ._context import EvalContext, Node
from ._dates import DateValue, days_to_datetime, parse_datetime
from ._values import (
    SCALAR,
    Value,
    string_to_number,
    to_boolean,
    to_number,
    to_string,
)

if TYPE_CHECKING:
    from ._compiler import Compiled, _Compiler, _Scope

__all__ = ["FUNCTIONS", "compile_call"]

Impl = Callable[[EvalContext, list[Value]], Value]
NAN = math.nan


@dataclass(frozen=True, slots=True)
class _Function:
    min_args: int
    max_args: int | None  # None: any number
    impl: Impl | None  # None: compiled specially


FUNCTIONS: dict[str, _Function] = {}


def _register(name: str, min_args: int, max_args: int | None) -> Callable[[Impl], Impl]:
    def decorate(impl: Impl) -> Impl:
        FUNCTIONS[name] = _Function(min_args, max_args, impl)
        return impl

    return decorate


def _special(name: str, min_args: int, max_args: int | None) -> None:
    FUNCTIONS[name] = _Function(min_args, max_args, None)


def _nodes(value: Value) -> Sequence[Node]:
    return value if not isinstance(value, SCALAR) else ()


def _strings(values: list[Value]) -> list[str]:
    """Every argument's text; a node-set contributes each of its nodes (ODK concat/join)."""
    out: list[str] = []
    for value in values:
        if not isinstance(value, SCALAR):
            out.extend(node.text() for node in value)
        else:
            out.append(to_string(value))
    return out


def _context_or(ctx: EvalContext, args: list[Value]) -> Value:
    return args[0] if args else (ctx.node,)


# -- XPath 1.0 node-set functions (§4.1) ------------------------------------------------------


@_register("count", 1, 1)
def _count(ctx: EvalContext, args: list[Value]) -> Value:
    return float(len(_nodes(args[0])))


@_register("sum", 1, 1)
def _sum(ctx: EvalContext, args: list[Value]) -> Value:
    # XPath 1.0 §4.4: the sum of number() of each node; one empty node makes it NaN.
    # ODK Web Forms: the sum of an empty node-set is NaN (written as empty), not 0.
    nodes = _nodes(args[0])
    if not nodes:
        return NAN
    total = 0.0
    for node in nodes:
        total += string_to_number(node.text())
    return total


@_register("name", 0, 1)
def _name(ctx: EvalContext, args: list[Value]) -> Value:
    nodes = _nodes(_context_or(ctx, args))
    return nodes[0].name if nodes else ""


@_register("local-name", 0, 1)
def _local_name(ctx: EvalContext, args: list[Value]) -> Value:
    nodes = _nodes(_context_or(ctx, args))
    return nodes[0].name.rsplit(":", 1)[-1] if nodes else ""


# -- strings (XPath 1.0 §4.2 and ODK) ---------------------------------------------------------


@_register("string", 0, 1)
def _string(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(_context_or(ctx, args))


@_register("concat", 0, None)
def _concat(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: "may contain 1 argument and all arguments can be nodesets … concatenates all string
    # values of all nodes".
    return "".join(_strings(args))


@_register("join", 1, None)
def _join(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(args[0]).join(_strings(args[1:]))


@_register("string-length", 0, 1)
def _string_length(ctx: EvalContext, args: list[Value]) -> Value:
    # UTF-16 code units, as both ODK engines count (Java's and JavaScript's String length):
    # an emoji counts 2.
    text = to_string(_context_or(ctx, args))
    return float(len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF))


@_register("normalize-space", 0, 1)
def _normalize_space(ctx: EvalContext, args: list[Value]) -> Value:
    # XPath 1.0 §4.2: strip and collapse runs of XML whitespace (space, tab, CR, LF).
    text = to_string(_context_or(ctx, args)).strip(" \t\r\n")
    return re.sub(r"[ \t\r\n]+", " ", text)


@_register("contains", 2, 2)
def _contains(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(args[1]) in to_string(args[0])


@_register("starts-with", 2, 2)
def _starts_with(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(args[0]).startswith(to_string(args[1]))


@_register("ends-with", 2, 2)
def _ends_with(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(args[0]).endswith(to_string(args[1]))


@_register("substring-before", 2, 2)
def _substring_before(ctx: EvalContext, args: list[Value]) -> Value:
    text, sep = to_string(args[0]), to_string(args[1])
    index = text.find(sep)
    return text[:index] if index >= 0 else ""


@_register("substring-after", 2, 2)
def _substring_after(ctx: EvalContext, args: list[Value]) -> Value:
    text, sep = to_string(args[0]), to_string(args[1])
    index = text.find(sep)
    return text[index + len(sep) :] if index >= 0 else ""


def _ieee_div(a: float, b: float) -> float:
    if b == 0 or math.isinf(b) and math.isinf(a):
        if a == 0 or a != a or math.isinf(b):
            return NAN
        return math.copysign(math.inf, a) * math.copysign(1, b)
    return a / b


def _xpath_round(x: float) -> float:
    # XPath 1.0 §4.4 round(): ties toward positive infinity, like JavaScript's Math.round.
    if math.isnan(x) or math.isinf(x):
        return x
    return float(math.floor(x + 0.5))


@_register("substring", 2, 3)
def _substring(ctx: EvalContext, args: list[Value]) -> Value:
    # XPath 1.0 §4.2: 1-based, positions rounded; characters at p with
    # round(start) <= p < round(start) + round(length).
    text = to_string(args[0])
    start = _xpath_round(to_number(args[1]))
    end = math.inf if len(args) < 3 else start + _xpath_round(to_number(args[2]))
    if math.isnan(start) or math.isnan(end):
        return ""
    out = [ch for p, ch in enumerate(text, 1) if start <= p < end]
    return "".join(out)


@_register("substr", 2, 3)
def _substr(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: "substring beginning at the 0-based start index and extending to end index - 1";
    # Web Forms uses JavaScript's String.prototype.slice, so negative indexes count back.
    text = to_string(args[0])
    start = _js_index(to_number(args[1]), len(text))
    end = len(text) if len(args) < 3 else _js_index(to_number(args[2]), len(text))
    return text[start:end] if start < end else ""


def _js_index(x: float, length: int) -> int:
    # ToIntegerOrInfinity as String.prototype.slice applies it.
    if math.isnan(x):
        return 0
    if x < 0:
        return max(0, length + int(max(x, -1e18)))
    return min(length, int(min(x, 1e18)))


@_register("translate", 3, 3)
def _translate(ctx: EvalContext, args: list[Value]) -> Value:
    text, source, target = (to_string(a) for a in args)
    table: dict[str, str | None] = {}
    for i, ch in enumerate(source):
        if ch not in table:
            table[ch] = target[i] if i < len(target) else None
    return "".join(table.get(ch, ch) or "" for ch in text if table.get(ch, ch) is not None)


@_register("coalesce", 2, 2)
def _coalesce(ctx: EvalContext, args: list[Value]) -> Value:
    first = to_string(args[0])
    return first if first != "" else to_string(args[1])


@_register("regex", 2, 2)
def _regex(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: "regex(string value, string expression) … the regular expression is created from
    # the provided expression string" and tested against the value (a search, not a full
    # match, as in JavaScript's RegExp.test).
    pattern = _compiled_regex(to_string(args[1]))
    return bool(pattern.search(to_string(args[0]))) if pattern is not None else False


_REGEX_CACHE: dict[str, re.Pattern[str] | None] = {}


def _compiled_regex(source: str) -> re.Pattern[str] | None:
    if source not in _REGEX_CACHE:
        try:
            _REGEX_CACHE[source] = re.compile(source)
        except re.error:
            _REGEX_CACHE[source] = None
        if len(_REGEX_CACHE) > 1024:
            _REGEX_CACHE.pop(next(iter(_REGEX_CACHE)))
    return _REGEX_CACHE[source]


_MAX_UUID_LENGTH = 10_000


@_register("uuid", 0, 1)
def _uuid_fn(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: uuid() is an RFC 4122 v4 UUID; uuid(n) is a random alphanumeric string of length n.
    if args:
        length = to_number(args[0])
        if math.isnan(length) or length < 0:
            return ""
        # A form cannot make us build a string of billions of characters.
        length = min(length, _MAX_UUID_LENGTH)
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        return "".join(ctx.random.choice(alphabet) for _ in range(int(length)))
    return str(_uuid.UUID(int=ctx.random.getrandbits(128), version=4))


@_register("digest", 2, 3)
def _digest(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: digest(src, algorithm, encoding='base64'); algorithms MD5, SHA-1, SHA-256, SHA-384,
    # SHA-512; encodings hex, base64.
    algorithms = {
        "MD5": "md5",
        "SHA-1": "sha1",
        "SHA-256": "sha256",
        "SHA-384": "sha384",
        "SHA-512": "sha512",
    }
    name = algorithms.get(to_string(args[1]))
    encoding = to_string(args[2]) if len(args) > 2 else "base64"
    if name is None or encoding not in ("hex", "base64"):
        return ""
    digest = hashlib.new(name, to_string(args[0]).encode("utf-8"))  # noqa: S324 - ODK's list
    if encoding == "hex":
        return digest.hexdigest()
    return base64.b64encode(digest.digest()).decode("ascii")


@_register("base64-decode", 1, 1)
def _base64_decode(ctx: EvalContext, args: list[Value]) -> Value:
    try:
        return base64.b64decode(to_string(args[0]), validate=True).decode("utf-8")
    except ValueError:
        return ""


# -- booleans ---------------------------------------------------------------------------------


@_register("boolean", 1, 1)
def _boolean(ctx: EvalContext, args: list[Value]) -> Value:
    return to_boolean(args[0])


@_register("not", 1, 1)
def _not(ctx: EvalContext, args: list[Value]) -> Value:
    return not to_boolean(args[0])


@_register("true", 0, 0)
def _true(ctx: EvalContext, args: list[Value]) -> Value:
    return True


@_register("false", 0, 0)
def _false(ctx: EvalContext, args: list[Value]) -> Value:
    return False


@_register("boolean-from-string", 1, 1)
def _boolean_from_string(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: true for "true" or "1", false otherwise.
    return to_string(args[0]) in ("true", "1")


@_register("lang", 1, 1)
def _lang(ctx: EvalContext, args: list[Value]) -> Value:
    return ctx.language is not None and ctx.language.lower().startswith(to_string(args[0]).lower())


# -- selects ----------------------------------------------------------------------------------


def _choices(value: Value) -> list[str]:
    return to_string(value).split()


@_register("selected", 2, 2)
def _selected(ctx: EvalContext, args: list[Value]) -> Value:
    return to_string(args[1]).strip() in _choices(args[0])


@_register("count-selected", 1, 1)
def _count_selected(ctx: EvalContext, args: list[Value]) -> Value:
    return float(len(_choices(args[0])))


@_register("selected-at", 2, 2)
def _selected_at(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: the choice at the 0-based index, "" when out of range.
    items = _choices(args[0])
    index = to_number(args[1])
    if math.isnan(index) or index < 0 or index != int(index) or index >= len(items):
        return ""
    return items[int(index)]


@_register("jr:choice-name", 2, 2)
def _choice_name(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: jr:choice-name(value, ' /data/question ') — the label of the choice in the current
    # language; the second argument is the question's path as a string.
    if ctx.choice_label is None:
        return ""
    path = re.sub(r"\[[^\]]*\]", "", to_string(args[1]).strip())
    label = ctx.choice_label(path, to_string(args[0]))
    return label if label is not None else ""


# -- numbers ----------------------------------------------------------------------------------


@_register("number", 0, 1)
def _number(ctx: EvalContext, args: list[Value]) -> Value:
    value = _context_or(ctx, args)
    if isinstance(value, float | bool):
        return to_number(value)
    # Web Forms: number() of a date string is its (fractional) day count that PRINTS as the
    # whole days (`String(Math.floor(epochMilliseconds / DAY))`).
    text = to_string(value)
    moment = parse_datetime(text.strip())
    if moment is not None and not _PLAIN_NUMBER.match(text.strip()):
        days = to_number(text)
        return DateValue.with_text(days, str(math.floor(days)))
    return to_number(value)


_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?\Z")


@_register("int", 1, 1)
def _int(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: truncates toward zero.
    x = to_number(args[0])
    if math.isnan(x) or math.isinf(x):
        return x
    return float(math.trunc(x))


@_register("round", 1, 2)
def _round(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: round(number, decimals?) rounds half away from zero (Web Forms: sign *
    # Math.round(|x| * 10^d) / 10^d).
    x = to_number(args[0])
    if math.isnan(x):
        return x
    decimals = to_number(args[1]) if len(args) > 1 else 0.0
    if math.isnan(decimals):
        return NAN
    sign = -1.0 if x < 0 else 1.0
    try:
        multiplier: float = 10.0**decimals
    except OverflowError:
        multiplier = math.inf
    # IEEE arithmetic throughout, as in JavaScript: huge or tiny multipliers give Infinity/NaN.
    shifted = abs(x) * multiplier
    return _ieee_div(_xpath_round(shifted), multiplier) * sign


@_register("floor", 1, 1)
def _floor(ctx: EvalContext, args: list[Value]) -> Value:
    x = to_number(args[0])
    return x if math.isnan(x) or math.isinf(x) else float(math.floor(x))


@_register("ceiling", 1, 1)
def _ceiling(ctx: EvalContext, args: list[Value]) -> Value:
    x = to_number(args[0])
    return x if math.isnan(x) or math.isinf(x) else float(math.ceil(x))


def _math1(name: str, fn: Callable[[float], float]) -> None:
    def impl(ctx: EvalContext, args: list[Value]) -> Value:
        x = to_number(args[0])
        if math.isnan(x):
            return x
        try:
            return fn(x)
        except (ValueError, OverflowError):
            return _js_math_edge(name, x)

    FUNCTIONS[name] = _Function(1, 1, impl)


def _js_math_edge(name: str, x: float) -> float:
    # JavaScript's Math returns values where Python raises: log(0) = -Infinity, log(-1) = NaN,
    # exp(1000) = Infinity.
    if name in ("log", "log10") and x == 0:
        return -math.inf
    if name in ("exp", "exp10"):
        return math.inf
    return NAN


_math1("abs", abs)
_math1("sqrt", math.sqrt)
_math1("exp", math.exp)
_math1("exp10", lambda x: 10.0**x)
_math1("log", math.log)
_math1("log10", math.log10)
_math1("sin", math.sin)
_math1("cos", math.cos)
_math1("tan", math.tan)
_math1("asin", math.asin)
_math1("acos", math.acos)
_math1("atan", math.atan)


@_register("pow", 2, 2)
def _pow(ctx: EvalContext, args: list[Value]) -> Value:
    x, y = to_number(args[0]), to_number(args[1])
    if math.isnan(x) or math.isnan(y):
        return NAN
    try:
        result = math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        return NAN
    return result


@_register("atan2", 2, 2)
def _atan2(ctx: EvalContext, args: list[Value]) -> Value:
    y, x = to_number(args[0]), to_number(args[1])
    return NAN if math.isnan(x) or math.isnan(y) else math.atan2(y, x)


@_register("pi", 0, 0)
def _pi(ctx: EvalContext, args: list[Value]) -> Value:
    return math.pi


@_register("random", 0, 0)
def _random(ctx: EvalContext, args: list[Value]) -> Value:
    return ctx.random.random()


def _numbers(values: list[Value]) -> list[float]:
    out: list[float] = []
    for value in values:
        if not isinstance(value, SCALAR):
            out.extend(string_to_number(n.text()) for n in value)
        else:
            out.append(to_number(value))
    return out


@_register("min", 0, None)
def _min(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: node-sets or numbers; NaN if any value is NaN or there are none.
    numbers = _numbers(args)
    if not numbers or any(math.isnan(n) for n in numbers):
        return NAN
    return min(numbers)


@_register("max", 0, None)
def _max(ctx: EvalContext, args: list[Value]) -> Value:
    numbers = _numbers(args)
    if not numbers or any(math.isnan(n) for n in numbers):
        return NAN
    return max(numbers)


@_register("count-non-empty", 1, 1)
def _count_non_empty(ctx: EvalContext, args: list[Value]) -> Value:
    return float(sum(1 for n in _nodes(args[0]) if n.text() != ""))


@_register("checklist", 2, None)
def _checklist(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: true when the number of true arguments (nodes each count) is within [min, max];
    # -1 means no bound.
    low, high = to_number(args[0]), to_number(args[1])
    count = 0
    for value in args[2:]:
        if not isinstance(value, SCALAR):
            count += sum(1 for n in value if to_boolean(n.text()))
        elif to_boolean(value):
            count += 1
    return (low < 0 or count >= low) and (high < 0 or count <= high)


@_register("weighted-checklist", 2, None)
def _weighted_checklist(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: pairs (value, weight); the weights of true values summed must be within [min, max].
    low, high = to_number(args[0]), to_number(args[1])
    flat_values: list[Value] = []
    for value in args[2:]:
        if not isinstance(value, SCALAR):
            flat_values.extend(n.text() for n in value)
        else:
            flat_values.append(value)
    total = 0.0
    for i in range(0, len(flat_values) - 1, 2):
        if to_boolean(flat_values[i]):
            total += to_number(flat_values[i + 1])
    return (low < 0 or total >= low) and (high < 0 or total <= high)


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


# -- geo --------------------------------------------------------------------------------------

_EARTH_RADIUS = 6378100.0  # metres, as JavaRosa's GeoUtils and Web Forms use


def _points(values: list[Value]) -> list[tuple[float, float]] | None:
    texts: list[str] = []
    for value in values:
        if not isinstance(value, SCALAR):
            texts.extend(n.text() for n in value)
        else:
            texts.append(to_string(value))
    if len(texts) == 1:
        texts = [t for t in texts[0].split(";")]
    points: list[tuple[float, float]] = []
    for text in texts:
        parts = text.strip().split()
        if len(parts) < 2:
            return None
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except ValueError:
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        points.append((lat, lon))
    return points


@_register("distance", 1, None)
def _distance(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: the length in metres of a geotrace/geoshape (great-circle, haversine).
    points = _points(args)
    if points is None:
        return NAN
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:], strict=False):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * _EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))
    return _two_decimals(total)


def _two_decimals(x: float) -> float:
    # Web Forms rounds distance() and area() to centimetres / square centimetres.
    return round(x * 100) / 100


@_register("area", 1, 1)
def _area(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: the area in square metres of a geoshape (spherical excess, as in JavaRosa).
    points = _points(args)
    if points is None or len(points) < 3:
        return NAN if points is None else 0.0
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:] + points[:1], strict=True):
        total += math.radians(lon2 - lon1) * (
            2 + math.sin(math.radians(lat1)) + math.sin(math.radians(lat2))
        )
    return _two_decimals(abs(total * _EARTH_RADIUS * _EARTH_RADIUS / 2.0))


def _geo_text(value: Value) -> str:
    if not isinstance(value, SCALAR):
        return value[0].text() if value else ""
    return to_string(value)


@_register("geofence", 2, 2)
def _geofence(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: true when the geopoint lies inside the closed geoshape (even-odd ray casting on
    # longitude/latitude, as Web Forms and JavaRosa do); false for malformed input.
    point = _points([_geo_text(args[0])])
    shape = _points([_geo_text(args[1])])
    if not point or len(point) != 1 or shape is None or len(shape) < 2 or shape[0] != shape[-1]:
        return False
    lat, lon = point[0]
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(shape, shape[1:], strict=False):
        if (lat2 > lat) != (lat1 > lat) and lon < (lon1 - lon2) * (lat - lat2) / (
            lat1 - lat2
        ) + lon2:
            inside = not inside
    return inside


# -- secondary instances ----------------------------------------------------------------------


@_register("pulldata", 4, 4)
def _pulldata(ctx: EvalContext, args: list[Value]) -> Value:
    # ODK: pulldata('instance', 'column', 'key column', key) reads the CSV attached as a
    # secondary instance (items with one child per column); "" when absent.
    root = ctx.instances.get(to_string(args[0]))
    if root is None:
        return ""
    column, key_column, key = to_string(args[1]), to_string(args[2]), to_string(args[3])
    for item in root.children():
        keys = item.children_named(key_column)
        if keys and keys[0].text() == key:
            values = item.children_named(column)
            return values[0].text() if values else ""
    return ""


# -- compiled specially -----------------------------------------------------------------------

for _special_name, _low, _high in (
    ("if", 3, 3),
    ("current", 0, 0),
    ("position", 0, 1),
    ("last", 0, 0),
    ("instance", 1, 1),
    ("indexed-repeat", 3, 7),
    ("once", 1, 1),
    ("randomize", 1, 2),
):
    _special(_special_name, _low, _high)

_UNSUPPORTED = {
    "jr:itext": "jr:itext() is not supported in calculations",
    "extract-signed": "extract-signed() is not supported",
}


def compile_call(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    """Compile a function call, checking the name and the number of arguments."""
    name = expr.name
    fn = FUNCTIONS.get(name)
    if fn is None:
        message = _UNSUPPORTED.get(name, f"unknown function {name}()")
        raise ExpressionError(f"{message}, at character {expr.pos}", offset=expr.pos)
    count = len(expr.args)
    if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
        if fn.max_args == fn.min_args:
            wanted = f"{fn.min_args}"
        elif fn.max_args is None:
            wanted = f"at least {fn.min_args}"
        else:
            wanted = f"{fn.min_args} to {fn.max_args}"
        plural = "" if wanted == "1" else "s"
        raise ExpressionError(
            f"{name}() takes {wanted} argument{plural}, not {count}, at character {expr.pos}",
            offset=expr.pos,
        )
    if name == "regex" and isinstance(expr.args[1], Literal):
        # A pattern written in the form is checked at load (ODK raises when it evaluates).
        if _compiled_regex(expr.args[1].value) is None:
            raise ExpressionError(
                f"regex(): invalid regular expression, at character {expr.args[1].pos}",
                offset=expr.args[1].pos,
            )
    if fn.impl is None:
        return _SPECIAL[name](compiler, expr, scope)
    impl = fn.impl
    args = [compiler.compile(a, scope) for a in expr.args]
    if not args:
        return lambda ctx: impl(ctx, [])
    if len(args) == 1:
        (a,) = args
        return lambda ctx: impl(ctx, [a(ctx)])
    if len(args) == 2:
        a, b = args
        return lambda ctx: impl(ctx, [a(ctx), b(ctx)])
    return lambda ctx: impl(ctx, [f(ctx) for f in args])


def _compile_if(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    cond, then, other = (compiler.compile(a, scope) for a in expr.args)
    return lambda ctx: then(ctx) if to_boolean(cond(ctx)) else other(ctx)


def _compile_current(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    return lambda ctx: (ctx.current if ctx.current is not None else ctx.node,)


def _compile_position(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    if not expr.args:
        if scope.in_predicate:
            return lambda ctx: float(ctx._position)
        # ODK extension: outside a predicate, position() is the context node's 1-based index
        # among its same-name siblings (the repeat instance number).
        return lambda ctx: _sibling_position(ctx.node)
    arg = compiler.compile(expr.args[0], scope)

    def position(ctx: EvalContext) -> Value:
        nodes = _nodes(arg(ctx))
        return _sibling_position(nodes[0]) if nodes else NAN

    return position


def _sibling_position(node: Node) -> float:
    parent = node.parent
    if parent is None:
        return 1.0
    for index, sibling in enumerate(parent.children_named(node.name), 1):
        if sibling is node:
            return float(index)
    return 1.0


def _compile_last(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    return lambda ctx: float(ctx._size)


def _compile_instance(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    from ._nodes import document_of

    arg = compiler.compile(expr.args[0], scope)

    def instance(ctx: EvalContext) -> Value:
        root = ctx.instances.get(to_string(arg(ctx)))
        if root is None:
            return ()
        return (document_of(ctx, root),)

    return instance


def _compile_once(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    # ODK: once(x) is x while the node is still empty, then the node's own value for good.
    arg = compiler.compile(expr.args[0], scope)

    def once(ctx: EvalContext) -> Value:
        own = ctx.node.text()
        return own if own != "" else arg(ctx)

    return once


def _compile_randomize(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    # ODK: randomize(nodeset, seed?) shuffles with the Park–Miller generator when seeded, so a
    # seed gives the same order on every device (XForms spec, "randomize").
    nodes_fn = compiler.compile(expr.args[0], scope)
    seed_fn = compiler.compile(expr.args[1], scope) if len(expr.args) > 1 else None

    def randomize(ctx: EvalContext) -> Value:
        nodes = list(_nodes(nodes_fn(ctx)))
        if seed_fn is None:
            ctx.random.shuffle(nodes)
            return nodes
        seed = to_number(seed_fn(ctx))
        if math.isnan(seed) or math.isinf(seed):
            return nodes
        return _park_miller_shuffle(nodes, seed)

    return randomize


def _park_miller_shuffle(nodes: list[Node], seed: float) -> list[Node]:
    # JavaRosa's randomize(): Fisher–Yates driven by a Park–Miller (Lehmer) generator seeded
    # with the seed (int(seed) mod 2147483647, 0 → 2147483646).
    state = int(seed) % 2147483647
    if state <= 0:
        state += 2147483646
    out = list(nodes)
    for i in range(len(out) - 1, 0, -1):
        state = state * 16807 % 2147483647
        j = int((state - 1) / 2147483646 * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def _compile_indexed_repeat(compiler: _Compiler, expr: Call, scope: _Scope) -> Compiled:
    # ODK: indexed-repeat(nodeset, repeat1, index1[, repeat2, index2[, repeat3, index3]]) —
    # the node of `nodeset` inside the index1-th instance of repeat1 (and so on, nested).
    if len(expr.args) % 2 == 0:
        raise ExpressionError(
            f"indexed-repeat() takes a node and pairs of repeat and index, at character {expr.pos}",
            offset=expr.pos,
        )
    target = _template_of(expr.args[0], scope, expr.pos)
    repeats = [_template_of(a, scope, expr.pos) for a in expr.args[1::2]]
    indexes = [compiler.compile(a, scope) for a in expr.args[2::2]]
    previous: tuple[str, ...] = ()
    for repeat in repeats + [target]:
        if repeat[: len(previous)] != previous or len(repeat) <= len(previous):
            raise ExpressionError(
                f"indexed-repeat(): each repeat must contain the next and the node, at "
                f"character {expr.pos}",
                offset=expr.pos,
            )
        previous = repeat
    segments: list[tuple[str, ...]] = []
    start = 1
    for repeat in repeats:
        segments.append(repeat[start:])
        start = len(repeat)
    tail = target[start:]
    root_name = target[0]

    def indexed(ctx: EvalContext) -> Value:
        root = ctx.root
        if root.name != root_name:
            return ()
        nodes: Sequence[Node] = (root,)
        for segment, index_fn in zip(segments, indexes, strict=True):
            for name in segment:
                nodes = [c for n in nodes for c in n.children_named(name)]
            index = to_number(index_fn(ctx))
            if math.isnan(index) or index < 1 or index > len(nodes) or index != int(index):
                return ()
            nodes = (nodes[int(index) - 1],)
        for name in tail:
            nodes = [c for n in nodes for c in n.children_named(name)]
        return nodes

    return indexed


def _template_of(arg: object, scope: _Scope, pos: int) -> tuple[str, ...]:
    from ._compiler import resolve_ref

    if isinstance(arg, Ref):
        return resolve_ref(arg, scope.resolve_name)
    if (
        isinstance(arg, Path)
        and arg.absolute
        and arg.base is None
        and all(s.axis == "child" and not s.predicates and s.test != "*" for s in arg.steps)
    ):
        return tuple(s.test for s in arg.steps)
    raise ExpressionError(
        f"indexed-repeat() needs ${{name}} references or absolute paths, at character {pos}",
        offset=pos,
    )


_SPECIAL: dict[str, Callable[[_Compiler, Call, _Scope], Compiled]] = {
    "if": _compile_if,
    "current": _compile_current,
    "position": _compile_position,
    "last": _compile_last,
    "instance": _compile_instance,
    "once": _compile_once,
    "randomize": _compile_randomize,
    "indexed-repeat": _compile_indexed_repeat,
}
