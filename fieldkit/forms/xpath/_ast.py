"""The syntax tree of an expression, and the printer that writes it back as text.

Nodes are dataclasses (treat them as immutable: the parser caches trees) compared by
structure; ``pos`` (the 1-based character column where the node starts) is carried for error
messages but left out of comparisons, so a tree printed with :func:`unparse` and parsed again
compares equal to the original.

Operators of one precedence level are kept as one n-ary :class:`Binary` node applied left to
right (XPath 1.0 §3: every binary operator is left-associative). This keeps the tree shallow for
long sums such as ``${a} + ${b} + … + ${z}``, so compiling and evaluating never recurse deeper
than the parenthesis/function nesting, which the parser bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "PRECEDENCE",
    "Binary",
    "Call",
    "Expr",
    "Filter",
    "Literal",
    "Negate",
    "Number",
    "Path",
    "Ref",
    "Step",
    "unparse",
]


@dataclass(slots=True)
class Literal:
    """A string literal: ``'yes'`` or ``"it's"``."""

    value: str
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Number:
    """A number literal: ``3``, ``2.5``, ``.5`` (XPath has no exponent notation)."""

    value: float
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Ref:
    """An XLSForm reference ``${name}``; the compiler resolves it to an absolute path."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Step:
    """One location step: ``axis::test[pred]…``.

    ``test`` is a name (``age``, ``jr:x``), ``*``, ``prefix:*`` or ``node()``. The abbreviations
    parse to axes: ``.`` is ``self::node()``, ``..`` is ``parent::node()``, ``@x`` is
    ``attribute::x`` and ``//`` inserts ``descendant-or-self::node()``.
    """

    axis: str
    test: str
    predicates: tuple[Expr, ...] = ()
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Path:
    """A location path.

    ``absolute`` paths start at the main instance's root (``/data/...``); a path with a ``base``
    continues from a filter expression (``instance('x')/root/item``, ``current()/../a``,
    ``${grp}/a``); otherwise it is relative to the context node.
    """

    absolute: bool
    steps: tuple[Step, ...]
    base: Expr | None = None
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Filter:
    """A primary expression followed by predicates: ``(a | b)[2]``, ``instance('x')[1]``."""

    base: Expr
    predicates: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Call:
    """A function call; ``name`` keeps its prefix (``jr:choice-name``)."""

    name: str
    args: tuple[Expr, ...] = ()
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Negate:
    """Unary minus."""

    operand: Expr
    pos: int = field(default=0, compare=False)


@dataclass(slots=True)
class Binary:
    """Operators of ONE precedence level applied left to right: ``a - b + c``.

    ``len(ops) == len(operands) - 1``; ``ops[i]`` combines the result so far with
    ``operands[i + 1]``.
    """

    ops: tuple[str, ...]
    operands: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    @property
    def level(self) -> int:
        """The precedence level of this chain's operators (higher binds tighter)."""
        return PRECEDENCE[self.ops[0]]


Expr = Literal | Number | Ref | Path | Filter | Call | Negate | Binary

# XPath 1.0 §3.4–3.7, loosest first. Unary minus binds tighter than every binary operator but
# looser than `|` (XPath 1.0 [27] UnaryExpr ::= UnionExpr | '-' UnaryExpr).
PRECEDENCE: dict[str, int] = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "div": 6,
    "mod": 6,
    "|": 8,
}
_UNARY_LEVEL = 7


def _number_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    # XPath numbers have no exponent: write the full decimal expansion.
    return format(Decimal(repr(value)), "f")


def _quote(value: str) -> str:
    # XPath 1.0 literals have no escapes: pick the quote the text does not contain. A text with
    # both kinds cannot be a single literal, so it is written as concat() of pieces.
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    pieces = [f"'{piece}'" for piece in value.split("'")]
    return "concat(" + ', "\'", '.join(pieces) + ")"


def _step_text(step: Step) -> str:
    if not step.predicates:
        if step.axis == "self" and step.test == "node()":
            return "."
        if step.axis == "parent" and step.test == "node()":
            return ".."
    if step.axis == "child":
        head = step.test
    elif step.axis == "attribute":
        head = "@" + step.test
    else:
        head = f"{step.axis}::{step.test}"
    return head + "".join(f"[{unparse(p)}]" for p in step.predicates)


def _operand(expr: Expr, *, above: int, right: bool) -> str:
    text = unparse(expr)
    level = _level(expr)
    # A right operand of the same level needs brackets too: a - (b - c).
    if level < above or (right and level == above):
        return f"({text})"
    return text


def _level(expr: Expr) -> int:
    if isinstance(expr, Binary):
        return expr.level
    if isinstance(expr, Negate):
        return _UNARY_LEVEL
    return 9


def unparse(expr: Expr) -> str:
    """Write a tree back as expression text that parses to an equal tree."""
    if isinstance(expr, Literal):
        return _quote(expr.value)
    if isinstance(expr, Number):
        return _number_text(expr.value)
    if isinstance(expr, Ref):
        return "${" + expr.name + "}"
    if isinstance(expr, Call):
        return f"{expr.name}({', '.join(unparse(a) for a in expr.args)})"
    if isinstance(expr, Negate):
        # A space keeps "- -1" from reading as one token in other tools; ours accepts both.
        return "-" + _operand(expr.operand, above=_UNARY_LEVEL, right=False)
    if isinstance(expr, Filter):
        base = unparse(expr.base)
        if _level(expr.base) < 9 or isinstance(expr.base, Path | Filter):
            base = f"({base})"
        return base + "".join(f"[{unparse(p)}]" for p in expr.predicates)
    if isinstance(expr, Path):
        steps = "/".join(_step_text(s) for s in expr.steps)
        if expr.base is not None:
            base = unparse(expr.base)
            if _level(expr.base) < 9:
                base = f"({base})"
            return f"{base}/{steps}"
        return "/" + steps if expr.absolute else steps
    # Binary
    level = expr.level
    parts = [_operand(expr.operands[0], above=level, right=False)]
    for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
        parts.append(op)
        parts.append(_operand(operand, above=level, right=True))
    return " ".join(parts)
