"""Functions on node-sets, strings, booleans and select answers (XPath 1.0 §4, ODK)."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import uuid as _uuid

from ._context import EvalContext
from ._regex import Pattern, RegexInvalid, compile_pattern
from ._registry import (
    NAN,
    _context_or,
    _nodes,
    _register,
    _strings,
    _xpath_round,
)
from ._values import Value, string_to_number, to_boolean, to_number, to_string

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
    # match, as in JavaScript's RegExp.test). Matched by RE2 in linear time (_regex.py).
    pattern = compiled_regex(to_string(args[1]))
    if isinstance(pattern, RegexInvalid):
        return False
    return pattern.search(to_string(args[0])) is not None


_REGEX_CACHE: dict[str, Pattern | RegexInvalid] = {}


def compiled_regex(source: str) -> Pattern | RegexInvalid:
    """The compiled pattern, or the reason it cannot be compiled (cached either way)."""
    found = _REGEX_CACHE.get(source)
    if found is None:
        try:
            found = compile_pattern(source)
        except RegexInvalid as exc:
            found = exc
        _REGEX_CACHE[source] = found
        if len(_REGEX_CACHE) > 1024:
            _REGEX_CACHE.pop(next(iter(_REGEX_CACHE)))
    return found


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
    if math.isnan(index) or index < 0 or index >= len(items) or index != int(index):
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
