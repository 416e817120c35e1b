"""Comparisons and arithmetic (XPath 1.0 §3.4, §3.5) with ODK Web Forms' number rules."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

from ._context import Node
from ._values import SCALAR, Value, string_to_number, to_boolean, to_number

# -- comparisons and arithmetic (XPath 1.0 §3.4, §3.5) ----------------------------------------


def _numeric(fn: Callable[[float, float], float]) -> Callable[[Value, Value], Value]:
    def op(a: Value, b: Value) -> Value:
        return fn(to_number(a), to_number(b))

    return op


def _div(a: float, b: float) -> float:
    # IEEE 754 as XPath 1.0 §3.5 requires: 1 div 0 = Infinity, 0 div 0 = NaN.
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1, b)
    return a / b


def _mod(a: float, b: float) -> float:
    # XPath 1.0 §3.5: the remainder truncates toward zero, like Java's % (math.fmod).
    if b == 0 or a != a or b != b or a in (math.inf, -math.inf):
        return math.nan
    if b in (math.inf, -math.inf):
        return a
    return math.fmod(a, b)


def _equal(a: Value, b: Value, negate: bool) -> bool:
    """``=`` / ``!=`` (XPath 1.0 §3.4; ODK Web Forms' ValueEvaluation.eq/ne)."""
    if not isinstance(a, SCALAR):
        if not isinstance(b, SCALAR):
            right = {n.text() for n in b}
            if negate:
                return any(n.text() != r for n in a for r in right)
            return any(n.text() in right for n in a)
        return _equal_nodes(a, b, negate)
    if not isinstance(b, SCALAR):
        return _equal_nodes(b, a, negate)
    if isinstance(a, bool) or isinstance(b, bool):
        result = to_boolean(a) == to_boolean(b)
    elif isinstance(a, float) or isinstance(b, float):
        result = to_number(a) == to_number(b)
    else:
        result = a == b
    return not result if negate else result


def _equal_nodes(nodes: Sequence[Node], other: str | float | bool, negate: bool) -> bool:
    if isinstance(other, bool):
        return (to_boolean(nodes) != other) if negate else (to_boolean(nodes) == other)
    if isinstance(other, float):
        for node in nodes:
            x = string_to_number(node.text())
            if (x != other) if negate else (x == other):
                return True
        return False
    for node in nodes:
        if (node.text() != other) if negate else (node.text() == other):
            return True
    return False


def _relational(cmp: Callable[[float, float], bool]) -> Callable[[Value, Value], Value]:
    """``< <= > >=``: on numbers, existentially over node-sets (XPath 1.0 §3.4)."""

    def op(a: Value, b: Value) -> Value:
        if not isinstance(a, SCALAR):
            if not isinstance(b, SCALAR):
                right = [string_to_number(n.text()) for n in b]
                for n in a:
                    x = string_to_number(n.text())
                    for y in right:
                        if cmp(x, y):
                            return True
                return False
            if isinstance(b, bool):
                return cmp(to_number(to_boolean(a)), to_number(b))
            y = to_number(b)
            for n in a:
                if cmp(string_to_number(n.text()), y):
                    return True
            return False
        if not isinstance(b, SCALAR):
            if isinstance(a, bool):
                return cmp(to_number(a), to_number(to_boolean(b)))
            x = to_number(a)
            for n in b:
                if cmp(x, string_to_number(n.text())):
                    return True
            return False
        return cmp(to_number(a), to_number(b))

    return op


_OPERATORS: dict[str, Callable[[Value, Value], Value]] = {
    "=": lambda a, b: _equal(a, b, False),
    "!=": lambda a, b: _equal(a, b, True),
    "<": _relational(operator.lt),
    "<=": _relational(operator.le),
    ">": _relational(operator.gt),
    ">=": _relational(operator.ge),
    "+": _numeric(operator.add),
    "-": _numeric(operator.sub),
    "*": _numeric(operator.mul),
    "div": _numeric(_div),
    "mod": _numeric(_mod),
}


_RELATIONAL: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
