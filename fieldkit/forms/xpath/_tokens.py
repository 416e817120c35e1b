"""The tokenizer: expression text → a list of tokens with their character columns.

Lexical rules are XPath 1.0 §3.7, plus XLSForm's ``${name}`` references. The one subtle rule
(§3.7): when there is a preceding token and it is not one of ``@ :: ( [ ,`` or an operator, a
``*`` is the multiply operator and a name is an operator name (``and or mod div``); otherwise
``*`` is a name test and ``div`` is an element name.
"""

from __future__ import annotations

from dataclasses import dataclass

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

_DIGITS = frozenset("0123456789")  # XPath 1.0 [31] Digits: ASCII only (not "²" or "٣")
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (a literal's value without quotes) and 1-based column."""

    kind: str
    text: str
    pos: int


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _is_name_char(ch: str) -> bool:
    return ch in "_-." or ch.isalnum()


def _operator_context(tokens: list[Token]) -> bool:
    """True when the next ``*`` or name must be read as an operator (XPath 1.0 §3.7)."""
    if not tokens:
        return False
    last = tokens[-1]
    if last.kind == OP:
        return False
    return not (last.kind == PUNCT and last.text in ("@", "::", "(", "[", ","))


def tokenize(text: str) -> list[Token]:
    """Split expression text into tokens, ending with an ``end`` token.

    Raises ExpressionError (with the 1-based column) on a character no token can start with or
    an unterminated literal or reference.
    """
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        start = i + 1
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "$":
            if i + 1 < n and text[i + 1] == "{":
                end = text.find("}", i + 2)
                if end < 0:
                    raise ExpressionError(
                        f"unterminated ${{…}} reference at character {start}", offset=start
                    )
                name = text[i + 2 : end].strip()
                if not name:
                    raise ExpressionError(
                        f"empty ${{}} reference at character {start}", offset=start
                    )
                tokens.append(Token(REF, name, start))
                i = end + 1
                continue
            raise ExpressionError(
                f"variables ($name) are not supported, at character {start}", offset=start
            )
        if ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0:
                raise ExpressionError(
                    f"unterminated string literal at character {start}", offset=start
                )
            tokens.append(Token(STRING, text[i + 1 : end], start))
            i = end + 1
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            tokens.append(Token(NUMBER, text[i:j], start))
            i = j
            continue
        if ch == ".":
            if text.startswith("..", i):
                tokens.append(Token(PUNCT, "..", start))
                i += 2
            else:
                tokens.append(Token(PUNCT, ".", start))
                i += 1
            continue
        if ch in "()[]@,":
            tokens.append(Token(PUNCT, ch, start))
            i += 1
            continue
        if ch == ":" and text.startswith("::", i):
            tokens.append(Token(PUNCT, "::", start))
            i += 2
            continue
        if ch == "*":
            if _operator_context(tokens):
                tokens.append(Token(OP, "*", start))
            else:
                tokens.append(Token(STAR, "*", start))
            i += 1
            continue
        if ch == "/":
            if text.startswith("//", i):
                tokens.append(Token(OP, "//", start))
                i += 2
            else:
                tokens.append(Token(OP, "/", start))
                i += 1
            continue
        if ch in "|+-=":
            tokens.append(Token(OP, ch, start))
            i += 1
            continue
        if ch == "!":
            if text.startswith("!=", i):
                tokens.append(Token(OP, "!=", start))
                i += 2
                continue
            raise ExpressionError(f"unexpected '!' at character {start}", offset=start)
        if ch in "<>":
            if i + 1 < n and text[i + 1] == "=":
                tokens.append(Token(OP, ch + "=", start))
                i += 2
            else:
                tokens.append(Token(OP, ch, start))
                i += 1
            continue
        if _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            # A prefixed name: jr:choice-name, or prefix:* (but not the axis separator "::").
            if j + 1 < n and text[j] == ":" and text[j + 1] != ":":
                if _is_name_start(text[j + 1]):
                    j += 2
                    while j < n and _is_name_char(text[j]):
                        j += 1
                elif text[j + 1] == "*":
                    j += 2
            name = text[i:j]
            k = j
            while k < n and text[k] in " \t\r\n":
                k += 1
            if _operator_context(tokens):
                if name in _OPERATOR_NAMES:
                    tokens.append(Token(OP, name, start))
                    i = j
                    continue
                raise ExpressionError(
                    f"expected an operator at character {start}, found '{name}'", offset=start
                )
            if name.endswith(":*"):
                tokens.append(Token(STAR, name, start))
            elif k < n and text[k] == "(":
                kind = NODETYPE if name in _NODE_TYPES else FUNC
                tokens.append(Token(kind, name, start))
            elif text.startswith("::", k):
                tokens.append(Token(AXIS, name, start))
            else:
                tokens.append(Token(NAME, name, start))
            i = j
            continue
        raise ExpressionError(f"unexpected character {ch!r} at character {start}", offset=start)
    tokens.append(Token(END, "", n + 1))
    return tokens
