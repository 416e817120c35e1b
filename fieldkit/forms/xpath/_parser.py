"""The parser: tokens → syntax tree, by precedence climbing over XPath 1.0's grammar (§3).

Nesting (brackets, predicates, function arguments, unary minus) is bounded by ``MAX_DEPTH`` so
that hostile or broken text gets an ExpressionError, never a RecursionError; chains of binary
operators are parsed in a loop and do not nest.
"""

from __future__ import annotations

from functools import lru_cache

from fieldkit.errors import ExpressionError

from ._ast import PRECEDENCE, Binary, Call, Expr, Filter, Literal, Negate, Number, Path, Ref, Step
from ._tokens import (
    AXIS,
    END,
    FUNC,
    NAME,
    NODETYPE,
    NUMBER,
    OP,
    PUNCT,
    REF,
    STAR,
    STRING,
    Token,
    tokenize,
)

__all__ = ["MAX_DEPTH", "parse"]

# Deep enough for any real form (a 60-level nested if() has been seen in the wild); shallow
# enough that parsing (about five frames a level), compiling and evaluating stay far from
# Python's recursion limit.
MAX_DEPTH = 100

_AXES = frozenset(
    {
        "ancestor",
        "ancestor-or-self",
        "attribute",
        "child",
        "descendant",
        "descendant-or-self",
        "following-sibling",
        "parent",
        "preceding-sibling",
        "self",
    }
)
_UNSUPPORTED_AXES = frozenset({"following", "preceding", "namespace"})
_DESCENDANT_OR_SELF = Step("descendant-or-self", "node()")
_LEAVES = frozenset({STRING, NUMBER, REF})
_EXTENDERS = frozenset({"[", "/", "//", "|"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == kind and (text is None or tok.text == text)

    def expect(self, kind: str, text: str) -> Token:
        if not self.at(kind, text):
            self.fail(f"expected '{text}'")
        return self.advance()

    def fail(self, what: str) -> None:
        tok = self.tok
        found = "the end" if tok.kind == END else f"'{tok.text}'"
        raise ExpressionError(f"{what} at character {tok.pos}, found {found}", offset=tok.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression nested more than {MAX_DEPTH} levels deep at character {self.tok.pos}",
                offset=self.tok.pos,
            )

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Expr:
        if self.at(END):
            raise ExpressionError("empty expression at character 1", offset=1)
        expr = self.expr(1)
        if not self.at(END):
            self.fail("expected an operator or the end")
        return expr

    def expr(self, min_level: int) -> Expr:
        """Precedence climbing for the binary levels 1 (or) … 6 (* div mod)."""
        left = self.unary()
        while True:
            tok = self.tok
            if tok.kind != OP or tok.text in ("/", "//", "|"):
                return left
            level = PRECEDENCE[tok.text]
            if level < min_level:
                return left
            self.advance()
            right = self.expr(level + 1)
            if isinstance(left, Binary) and left.level == level:
                left = Binary(left.ops + (tok.text,), left.operands + (right,), left.pos)
            else:
                left = Binary((tok.text,), (left, right), _pos(left))

    def unary(self) -> Expr:
        tok = self.tokens[self.i]
        if tok.kind in _LEAVES:
            # Fast path for a lone literal or ${ref} (most operands): skip the union, path and
            # filter levels when nothing that would extend it follows.
            follow = self.tokens[self.i + 1]
            if follow.text not in _EXTENDERS or follow.kind not in (OP, PUNCT):
                self.i += 1
                if tok.kind == STRING:
                    return Literal(tok.text, tok.pos)
                if tok.kind == NUMBER:
                    return Number(float(tok.text), tok.pos)
                return Ref(tok.text, tok.pos)
        if self.at(OP, "-"):
            tok = self.advance()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Negate(operand, tok.pos)
        return self.union()

    def union(self) -> Expr:
        left = self.path()
        while self.at(OP, "|"):
            self.advance()
            right = self.path()
            if isinstance(left, Binary) and left.level == PRECEDENCE["|"]:
                left = Binary(left.ops + ("|",), left.operands + (right,), left.pos)
            else:
                left = Binary(("|",), (left, right), _pos(left))
        return left

    def path(self) -> Expr:
        tok = self.tok
        if tok.kind == OP and tok.text in ("/", "//"):
            self.advance()
            steps: list[Step] = []
            if tok.text == "//":
                steps.append(_DESCENDANT_OR_SELF)
                steps.extend(self.relative_steps())
            elif self._step_starts():
                steps.extend(self.relative_steps())
            return Path(True, tuple(steps), None, tok.pos)
        if self._step_starts():
            return Path(False, tuple(self.relative_steps()), None, tok.pos)
        base = self.filter()
        if self.at(OP, "/") or self.at(OP, "//"):
            steps = []
            if self.advance().text == "//":
                steps.append(_DESCENDANT_OR_SELF)
            steps.extend(self.relative_steps())
            if isinstance(base, Path):
                # (a/b)/c is a/b/c: keep one path so the printed form parses back the same.
                return Path(base.absolute, base.steps + tuple(steps), base.base, base.pos)
            return Path(False, tuple(steps), base, tok.pos)
        return base

    def _step_starts(self) -> bool:
        tok = self.tok
        if tok.kind in (NAME, STAR, AXIS, NODETYPE):
            return True
        return tok.kind == PUNCT and tok.text in (".", "..", "@")

    def relative_steps(self) -> list[Step]:
        steps = [self.step()]
        while self.at(OP, "/") or self.at(OP, "//"):
            if self.advance().text == "//":
                steps.append(_DESCENDANT_OR_SELF)
            steps.append(self.step())
        return steps

    def step(self) -> Step:
        tok = self.tok
        if tok.kind == PUNCT and tok.text == ".":
            self.advance()
            return Step("self", "node()", (), tok.pos)
        if tok.kind == PUNCT and tok.text == "..":
            self.advance()
            return Step("parent", "node()", (), tok.pos)
        axis = "child"
        if tok.kind == PUNCT and tok.text == "@":
            self.advance()
            axis = "attribute"
        elif tok.kind == AXIS:
            if tok.text in _UNSUPPORTED_AXES:
                raise ExpressionError(
                    f"the {tok.text} axis is not supported, at character {tok.pos}",
                    offset=tok.pos,
                )
            if tok.text not in _AXES:
                raise ExpressionError(
                    f"unknown axis '{tok.text}' at character {tok.pos}", offset=tok.pos
                )
            axis = tok.text
            self.advance()
            self.expect(PUNCT, "::")
        test_tok = self.tok
        if test_tok.kind in (NAME, STAR):
            test = self.advance().text
        elif test_tok.kind == NODETYPE:
            self.advance()
            if test_tok.text != "node":
                # Our node tree has elements only (ODK instances carry no mixed content).
                raise ExpressionError(
                    f"the node test {test_tok.text}() is not supported, at character "
                    f"{test_tok.pos}",
                    offset=test_tok.pos,
                )
            self.expect(PUNCT, "(")
            self.expect(PUNCT, ")")
            test = "node()"
        else:
            self.fail("expected a name in the path")
            raise AssertionError  # pragma: no cover - fail() raises
        return Step(axis, test, self.predicates(), tok.pos)

    def predicates(self) -> tuple[Expr, ...]:
        preds: list[Expr] = []
        while self.at(PUNCT, "["):
            self.advance()
            self.enter()
            preds.append(self.expr(1))
            self.depth -= 1
            self.expect(PUNCT, "]")
        return tuple(preds)

    def filter(self) -> Expr:
        primary = self.primary()
        if self.at(PUNCT, "["):
            return Filter(primary, self.predicates(), _pos(primary))
        return primary

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == STRING:
            self.advance()
            return Literal(tok.text, tok.pos)
        if tok.kind == NUMBER:
            self.advance()
            return Number(float(tok.text), tok.pos)
        if tok.kind == REF:
            self.advance()
            return Ref(tok.text, tok.pos)
        if tok.kind == PUNCT and tok.text == "(":
            self.advance()
            self.enter()
            inner = self.expr(1)
            self.depth -= 1
            self.expect(PUNCT, ")")
            return inner
        if tok.kind == FUNC:
            self.advance()
            self.expect(PUNCT, "(")
            self.enter()
            args: list[Expr] = []
            if not self.at(PUNCT, ")"):
                args.append(self.expr(1))
                while self.at(PUNCT, ","):
                    self.advance()
                    args.append(self.expr(1))
            self.depth -= 1
            self.expect(PUNCT, ")")
            return Call(tok.text, tuple(args), tok.pos)
        self.fail("expected a value, a path or a function call")
        raise AssertionError  # pragma: no cover - fail() raises


def _pos(expr: Expr) -> int:
    return expr.pos


@lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """Parse expression text to a syntax tree; raise ExpressionError with the column on error.

    Trees are cached by text (forms repeat the same logic on many questions); treat them as
    immutable.
    """
    return _Parser(text).parse()
