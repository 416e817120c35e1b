"""The function library: XPath 1.0 core functions and ODK's extensions.

Semantics follow the ODK XForms spec ("Functions", getodk.github.io/xforms-spec) and, where the
spec is silent, ODK Web Forms' ``@getodk/xpath`` (the engine our differential test runs
against). Each entry says how many arguments it takes; the compiler rejects other counts at
load. Functions are called with their arguments already evaluated, except the few compiled
specially at the bottom (``if``, ``current``, ``position``, ``instance``, ``indexed-repeat``…).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fieldkit.errors import ExpressionError

from . import _fn_dates, _fn_numbers  # noqa: F401 - importing them registers their functions
from ._ast import Call, Literal, Path, Ref
from ._context import EvalContext, Node
from ._fn_text import compiled_regex
from ._references import resolve_ref
from ._regex import RegexInvalid
from ._registry import FUNCTIONS, NAN, _nodes, _special
from ._values import (
    Value,
    to_boolean,
    to_number,
    to_string,
)

if TYPE_CHECKING:
    from ._compiler import Compiled, _Compiler, _Scope

__all__ = ["FUNCTIONS", "compile_call"]

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
        problem = compiled_regex(expr.args[1].value)
        if isinstance(problem, RegexInvalid):
            raise ExpressionError(
                f"regex(): {problem}, at character {expr.args[1].pos}",
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
