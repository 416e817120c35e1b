"""regex(): linear time on hostile patterns, JavaScript's answers on ordinary ones.

ODK Web Forms evaluates regex() with JavaScript's RegExp; fieldkit with RE2 after rewriting the
pattern (fieldkit/forms/xpath/_regex.py). The table below is run through both: node's own
RegExp where node is installed (it is wherever the ODK engines are), and fieldkit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fieldkit.errors import ExpressionError, FormError
from fieldkit.forms import Form, FormSession
from fieldkit.forms.xpath._regex import RegexUnsupported, compile_pattern

# (pattern, text): patterns seen in real XLSForms, then the places the two syntaxes differ.
CASES: list[tuple[str, str]] = [
    (r"^[0-9]{10}$", "0123456789"),
    (r"^[0-9]{10}$", "012345678"),
    (r"^[0-9]{10}$", "0123456789\n"),  # Python's $ matched before a final newline
    (r"^\+?[0-9 ]{7,15}$", "+254 700 000000"),
    (r"^[A-Z]{2}-[0-9]{4}$", "KE-1234"),
    (r"^[A-Z]{2}-[0-9]{4}$", "ke-1234"),
    (r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", "a.b@example.org"),
    (r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", "a.b@example"),
    (r"^\d{4}-\d{2}-\d{2}$", "2024-02-29"),
    (r"^(\d{2})/(\d{2})/(\d{4})$", "29/02/2024"),
    (r"^.{0,5}$", "abcde"),
    (r"^.{0,5}$", "abcdef"),
    (r"^.$", "\r"),  # . excludes \r in JavaScript
    (r"^.$", "\u2028"),
    (r"^.$", "é"),
    (r"^\s+$", "\u00a0\u3000"),  # \s is Unicode white space in JavaScript
    (r"^\S+$", "a\u00a0b"),
    (r"^[\s,]+$", "\u2003,"),
    (r"^\w+$", "héllo"),  # \w is ASCII
    (r"\bcat\b", "a cat sat"),
    (r"\Bcat", "concat"),
    (r"^[\u0600-\u06FF ]+$", "مرحبا بك"),
    (r"^\u00e9$", "é"),
    (r"^\x41$", "A"),
    (r"a\/b", "a/b"),
    (r"^[^]$", "\n"),
    (r"^[]$", ""),
    (r"a{", "a{"),
    (r"x{,3}", "x{,3}"),
    (r"^a{2,}$", "aaa"),
    (r"^(?:ab|cd)+$", "abcdab"),
    (r"^(?<year>\d{4})$", "2024"),
    (r"^[a-c]+$", "abcab"),
    (r"^[^a-c]+$", "xyz"),
    (r"^[\b]$", "\b"),
    (r"^\0$", "\x00"),
    (r"^\cJ$", "\n"),
    (r"[.]", "a"),
    (r"^\$\d+$", "$12"),
    (r"B", "abc"),
    (r"^$", ""),
    (r"^yes|no$", "maybe no"),
    (r"^(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaab"),
]


def _fieldkit(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_same_answers_as_javascript() -> None:
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map(([p, t]) => new RegExp(p).test(t))));"
    )
    out = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(CASES),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    theirs = json.loads(out.stdout)
    mine = [_fieldkit(pattern, text) for pattern, text in CASES]
    assert [c for c, a, b in zip(CASES, mine, theirs, strict=True) if a != b] == []


def test_unicode_letters_as_odk_collect_reads_them() -> None:
    # \p{L} is a letter of any script in Java (ODK Collect); JavaScript without the u flag
    # would read the text "p{L}", which no form means.
    assert _fieldkit(r"^\p{L}+$", "Zoë")
    assert not _fieldkit(r"^\p{L}+$", "Zoë1")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<x>a)\k<x>", "(?=a)", "(?!a)", "(?<=a)b"])
def test_what_linear_time_cannot_do_is_refused(pattern: str) -> None:
    with pytest.raises(RegexUnsupported):
        compile_pattern(pattern)


def test_catastrophic_pattern_is_instant(md_form: Callable[[str], Form]) -> None:
    # 27 characters took 9.7 s with a backtracking engine; a form is untrusted input.
    form = md_form(
        "| survey |\n"
        "| | type | name | label | constraint |\n"
        "| | text | t | T | regex(., '^(a+)+$') |\n"
    )
    session = FormSession(form)
    hostile = "a" * 5000 + "b"
    started = time.perf_counter()
    session.set("t", hostile)
    assert session.node("t").constraint_valid is False
    assert time.perf_counter() - started < 1.0


def test_catastrophic_pattern_from_an_answer_is_instant(md_form: Callable[[str], Form]) -> None:
    # The pattern itself may come from an answer (or a choice file): no load-time check then.
    form = md_form(
        "| survey |\n"
        "| | type | name | label | calculation |\n"
        "| | text | pattern | Pattern | |\n"
        "| | text | value | Value | |\n"
        "| | calculate | hit | | regex(${value}, ${pattern}) |\n"
    )
    session = FormSession(form)
    session.set("pattern", "^(a|a?)+$|^(a*)*b$|((a+)+)+c")
    started = time.perf_counter()
    session.set("value", "a" * 20000 + "!")
    assert session.node("hit").value == "false"
    session.set("pattern", "(a)\\1")  # not compilable: false, as an invalid pattern is
    assert session.node("hit").value == "false"
    assert time.perf_counter() - started < 1.0


def test_unsupported_pattern_in_a_form_is_a_load_error(tmp_path: Path) -> None:
    from fieldkit.forms import load_form

    path = tmp_path / "f.md"
    path.write_text(
        "| survey |\n| | type | name | label | constraint |\n"
        "| | text | t | T | regex(., '^(a)\\1$') |\n",
        encoding="utf-8",
    )
    with pytest.raises((FormError, ExpressionError)) as caught:
        load_form(path)
    text = str(caught.value)
    assert "back-references" in text and "row 2" in text and "constraint" in text
