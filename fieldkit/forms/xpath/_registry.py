"""The function registry and the helpers the function modules share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._context import EvalContext, Node
from ._values import SCALAR, Value, to_string

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
