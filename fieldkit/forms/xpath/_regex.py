"""``regex()`` patterns on a linear-time engine, read with ODK's (JavaScript's) syntax.

A backtracking engine (Python's ``re``, Java's, JavaScript's) can take exponential time on a
pattern such as ``^(a+)+$``: 27 characters took 9.7 seconds, and a form is untrusted input.
RE2 (the ``google-re2`` package) matches in time linear in the text, whatever the pattern.

ODK Web Forms evaluates ``regex(value, pattern)`` as ``new RegExp(pattern).test(value)``
(ODK Collect uses Java's regular expressions, which agree on ordinary patterns). RE2 reads
nearly the same syntax; where JavaScript differs, the pattern is rewritten first:

- ``.`` excludes the line terminators ``\\n \\r \\u2028 \\u2029`` (RE2: only ``\\n``);
- ``\\s``/``\\S`` are JavaScript's white space, Unicode spaces included (RE2: ASCII only);
- ``\\uXXXX`` is a code point (RE2 writes ``\\x{XXXX}``); ``\\0`` is NUL; ``\\/`` is ``/``;
- an escaped letter JavaScript has no meaning for (``\\a``, ``\\z``, ``\\p``…) is that letter;
- ``[^]`` matches any character and ``[]`` none; ``(?<name>…)`` is a named group;
- ``$`` is the end of the text, as in RE2 (Python's ``re`` also matched before a final newline).

What a linear-time engine cannot do — back-references (``\\1``, ``\\k<name>``) and
look-arounds (``(?=``, ``(?!``, ``(?<=``, ``(?<!``) — is refused (``RegexUnsupported``); so is
a pattern so large that RE2 will not build it (``(a{1000}){1000}``).
"""

from __future__ import annotations

from typing import Protocol, cast

__all__ = ["Pattern", "RegexInvalid", "RegexUnsupported", "compile_pattern"]


class RegexInvalid(ValueError):
    """The pattern is not a regular expression (or is too large to build)."""


class RegexUnsupported(RegexInvalid):
    """The pattern needs a feature a linear-time engine does not have."""


class Pattern(Protocol):
    """The part of a compiled RE2 pattern regex() uses."""

    def search(self, text: str) -> object | None:
        """A match anywhere in ``text``, or None."""


# JavaScript's WhiteSpace and LineTerminator code points (ECMA-262 §12.2, §12.3): what \s is.
_JS_SPACE = (
    r"\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}"
    r"\x{3000}\x{FEFF}"
)
_DOT = r"[^\n\r\x{2028}\x{2029}]"
# Escapes RE2 reads as JavaScript does (inside and outside a class).
_SAME = set("dDwWtnfr")
_MAX_PATTERN = 10_000  # characters; a form's pattern is a line, not a book
_MAX_MEMORY = 8 << 20  # bytes RE2 may use to build one pattern


def compile_pattern(source: str) -> Pattern:
    """Compile a regex() pattern; ``RegexInvalid`` / ``RegexUnsupported`` when it cannot be."""
    if len(source) > _MAX_PATTERN:
        raise RegexInvalid("the regular expression is too long")
    translated = _translate(source)
    import re2  # google-re2: linear-time matching (see the module docstring)

    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print parse errors on stderr
    options.max_mem = _MAX_MEMORY
    try:
        return cast(Pattern, re2.compile(translated, options))
    except re2.error:
        raise RegexInvalid("invalid regular expression") from None


def _translate(source: str) -> str:
    """The pattern in RE2's syntax, with JavaScript's meaning (see the module docstring)."""
    out: list[str] = []
    i = 0
    n = len(source)
    in_class = False
    while i < n:
        ch = source[i]
        if ch == "\\":
            if i + 1 >= n:
                raise RegexInvalid("invalid regular expression (a trailing backslash)")
            text, i = _escape(source, i + 1, in_class=in_class)
            out.append(text)
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "[":
                out.append(r"\[")  # JavaScript: a plain "[" inside a class
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            if source.startswith("[^]", i):
                out.append(r"[\x{0}-\x{10FFFF}]")
                i += 3
                continue
            if source.startswith("[]", i):
                out.append(r"[^\x{0}-\x{10FFFF}]")
                i += 2
                continue
            in_class = True
            out.append(ch)
            i += 1
            if i < n and source[i] == "^":
                out.append("^")
                i += 1
            continue
        if ch == ".":
            out.append(_DOT)
        elif ch == "(" and source.startswith("(?", i):
            if source.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                raise RegexUnsupported("look-arounds ((?=…), (?!…)…) are not supported")
            if source.startswith("(?<", i):
                out.append("(?P<")
                i += 3
                continue
            out.append("(?")
            i += 2
            continue
        else:
            out.append(ch)
        i += 1
    if in_class:
        raise RegexInvalid("invalid regular expression (an unclosed [)")
    return "".join(out)


def _escape(source: str, i: int, *, in_class: bool) -> tuple[str, int]:
    """One escape starting at ``source[i]`` (after the backslash): RE2 text, next index."""
    ch = source[i]
    if ch in _SAME:
        return "\\" + ch, i + 1
    if ch == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 1
    if ch == "S":
        # Inside a class a negated set cannot be spliced in; RE2's own \S is the nearest.
        return (r"\S" if in_class else f"[^{_JS_SPACE}]"), i + 1
    if ch in "bB":
        if in_class:
            return (r"\x{08}" if ch == "b" else "B"), i + 1  # [\b] is a backspace
        return "\\" + ch, i + 1
    if ch == "v":
        return r"\x{0B}", i + 1
    if ch == "0" and not source[i + 1 : i + 2].isdigit():
        return r"\x{0}", i + 1
    if ch.isdigit():
        if in_class:
            return ch, i + 1
        raise RegexUnsupported("back-references (\\1…) are not supported")
    if ch == "k" and source.startswith("<", i + 1) and not in_class:
        raise RegexUnsupported("back-references (\\k<name>) are not supported")
    if ch == "u":
        digits = source[i + 1 : i + 5]
        if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return rf"\x{{{digits}}}", i + 5
        return "u", i + 1
    if ch == "x":
        digits = source[i + 1 : i + 3]
        if len(digits) == 2 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return rf"\x{{{digits}}}", i + 3
        return "x", i + 1
    if ch == "c":
        letter = source[i + 1 : i + 2]
        if letter.isascii() and letter.isalpha():
            return rf"\x{{{ord(letter) % 32:02X}}}", i + 2
        return r"\\c", i + 1
    if ch in "pP" and source.startswith("{", i + 1):
        # A Unicode class (\p{L}: a letter of any script), as ODK Collect's Java reads it;
        # JavaScript without the u flag would match the text "p{L}", which no form means.
        end = source.find("}", i + 1)
        if end < 0:
            raise RegexInvalid("invalid regular expression (an unclosed \\p{)")
        return "\\" + source[i : end + 1], end + 1
    if ch.isalpha():
        return ch, i + 1  # an identity escape: the letter itself
    if ch.isascii():
        return "\\" + ch, i + 1  # escaped punctuation: itself, in both engines
    return ch, i + 1
