"""The tokenizer: expression text → a list of tokens with their character columns.

Lexical rules are XPath 1.0 §3.7, plus XLSForm's ``${name}`` references. The one subtle rule
(§3.7): when there is a preceding token and it is not one of ``@ :: ( [ ,`` or an operator, a
``*`` is the multiply operator and a name is an operator name (``and or mod div``); otherwise
``*`` is a name test and ``div`` is an element name.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn

from fieldkit.errors import ExpressionError

__all__ = ["Token", "tokenize"]

# Token kinds
NAME = "name"  # a QName or NCName: age, jr:choice-name, prefix:*
FUNC = "func"  # a QName followed by "(" (after optional space)
NODETYPE = "nodetype"  # node, text, comment, processing-instruction followed by "("
AXIS = "axis"  # an axis name followed by "::"
REF = "ref"  # ${name}
STRING = "string"
NUMBER = "number"
OP = "op"  # and or mod div = != < <= > >= + - * | / //
PUNCT = "punct"  # ( ) [ ] . .. @ , ::
STAR = "star"  # * as a name test
END = "end"

_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})


class Token(NamedTuple):
    """One token: its kind, its text (a literal's value without quotes) and 1-based column."""

    kind: str
    text: str
    pos: int


def _operator_context(tokens: list[Token]) -> bool:
    """True when the next ``*`` or name must be read as an operator (XPath 1.0 §3.7)."""
    if not tokens:
        return False
    last = tokens[-1]
    if last.kind == OP:
        return False
    return not (last.kind == PUNCT and last.text in ("@", "::", "(", "[", ","))


# One pattern for every token (XPath 1.0 §3.7 ExprToken) with the whitespace before it, tried
# at each position; group names say the kind. Names: NCName, optionally "prefix:local" or
# "prefix:*".
_TOKEN = re.compile(
    r"""
    [ \t\r\n]*
    (?:
        \$\{(?P<ref>[^}]*)\}
      | '(?P<sq>[^']*)'
      | "(?P<dq>[^"]*)"
      | (?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
      | (?P<punct>\.\.|::|[.()\[\]@,])
      | (?P<op>//|/|!=|<=|>=|[<>=|+\-])
      | (?P<star>\*)
      | (?P<name>[^\W\d][\w.\-]*(?::(?:[^\W\d][\w.\-]*|\*))?)
    )
    """,
    re.VERBOSE,
)
_SPACE = " \t\r\n"
# Where a token's text starts relative to its group: after "${" or the opening quote.
_GROUP_OFFSET = {"ref": 2, "sq": 1, "dq": 1}


def tokenize(text: str) -> list[Token]:
    """Split expression text into tokens, ending with an ``end`` token.

    Raises ExpressionError (with the 1-based column) on a character no token can start with or
    an unterminated literal or reference.
    """
    tokens: list[Token] = []
    append = tokens.append
    pos = 0
    n = len(text)
    last = len(text.rstrip(_SPACE))
    match_token = _TOKEN.match
    while pos < last:
        m = match_token(text, pos)
        if m is None:
            while text[pos] in _SPACE:
                pos += 1
            _unexpected(text, pos)
        kind = m.lastgroup or ""
        value = m.group(kind)
        start = m.start(kind) - _GROUP_OFFSET.get(kind, 0) + 1
        pos = m.end()
        if kind == "name":
            if _operator_context(tokens):
                if value in _OPERATOR_NAMES:
                    append(Token(OP, value, start))
                    continue
                raise ExpressionError(
                    f"expected an operator at character {start}, found '{value}'", offset=start
                )
            if value.endswith(":*"):
                append(Token(STAR, value, start))
                continue
            k = pos
            while k < n and text[k] in _SPACE:
                k += 1
            if k < n and text[k] == "(":
                append(Token(NODETYPE if value in _NODE_TYPES else FUNC, value, start))
            elif text.startswith("::", k):
                append(Token(AXIS, value, start))
            else:
                append(Token(NAME, value, start))
        elif kind == "op":
            append(Token(OP, value, start))
        elif kind == "punct":
            append(Token(PUNCT, value, start))
        elif kind == "ref":
            name = value.strip()
            if not name:
                raise ExpressionError(f"empty ${{}} reference at character {start}", offset=start)
            append(Token(REF, name, start))
        elif kind == "number":
            append(Token(NUMBER, value, start))
        elif kind == "star":
            # "*" is multiplication after an operand, a name test elsewhere (§3.7).
            append(Token(OP if _operator_context(tokens) else STAR, "*", start))
        else:
            append(Token(STRING, value, start))  # sq or dq: the column of the quote
    append(Token(END, "", n + 1))
    return tokens


def _unexpected(text: str, pos: int) -> NoReturn:
    ch = text[pos]
    start = pos + 1
    if ch in "'\"":
        raise ExpressionError(f"unterminated string literal at character {start}", offset=start)
    if text.startswith("${", pos):
        raise ExpressionError(f"unterminated ${{…}} reference at character {start}", offset=start)
    if ch == "$":
        raise ExpressionError(
            f"variables ($name) are not supported, at character {start}", offset=start
        )
    raise ExpressionError(f"unexpected character {ch!r} at character {start}", offset=start)
