"""Number and geo functions (XPath 1.0 §4.4, ODK XForms spec), with JavaScript's arithmetic
edges as ODK Web Forms has them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ._context import EvalContext
from ._dates import DateValue, parse_datetime
from ._registry import (
    FUNCTIONS,
    NAN,
    _context_or,
    _Function,
    _ieee_div,
    _nodes,
    _register,
    _xpath_round,
)
from ._values import SCALAR, Value, string_to_number, to_boolean, to_number, to_string

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
