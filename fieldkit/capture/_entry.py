"""What the interviewer types at a prompt: a command, or an answer to parse for its question type.

Answers are turned into the text a submission holds (docs/internals.md "Answers"): choice
names, select_multiple names space-separated in choice order, dates ``YYYY-MM-DD``, geopoints
``"lat lon alt acc"``. A parse failure raises ``AnswerError`` whose message describes the
expected input, never the text that was typed (it may be personal, DOMAIN §5).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fieldkit.capture._choices import fold
from fieldkit.capture._words import say
from fieldkit.errors import AnswerError

__all__ = [
    "COMMANDS",
    "ChoiceLike",
    "Command",
    "NoChoiceMatch",
    "parse_answer",
    "parse_command",
    "question_kind",
    "special_choice",
]


class ChoiceLike(Protocol):
    """A choice as the forms engine gives it: a name and a label in the session's language."""

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Command:
    """A command typed at a prompt, e.g. ``:jump 4`` → ``Command("jump", "4")``."""

    name: str
    arg: str = ""


# Every spelling the interviewer can type, mapped to the command's one name. Commands start
# with ":" so that no answer ("back", "q", "review") is ever mistaken for one. "!!" is the quick
# exit because it is two presses of one key, easy to hit in a hurry (DOMAIN §4: one key clears).
COMMANDS: dict[str, str] = {
    ":b": "back",
    ":back": "back",
    ":j": "jump",
    ":jump": "jump",
    ":r": "review",
    ":review": "review",
    ":l": "lang",
    ":lang": "lang",
    ":s": "save",
    ":save": "save",
    ":skip": "skip",
    ":del": "remove",
    ":n": "skip",
    ":dk": "dont_know",
    ":pn": "prefer_not",
    ":h": "help",
    ":help": "help",
    ":?": "help",
    ":q": "quit",
    ":quit": "quit",
    "!!": "quit",
}


def parse_command(text: str, *, lang: str | None = None) -> Command | None:
    """The command ``text`` spells, or None when it is an answer; unknown ``:x`` is an error."""
    stripped = text.strip()
    if not (stripped.startswith(":") or stripped == "!!"):
        return None
    word, _, arg = stripped.partition(" ")
    name = COMMANDS.get(word.lower())
    if name is None:
        raise AnswerError(say("unknown_command", lang))
    return Command(name, arg.strip())


# Choice names forms use for "don't know" and "prefer not to answer" (ODK and DHS conventions:
# named codes, or the numeric codes 98/99 and -98/-99 common in paper questionnaires).
_DONT_KNOW = {"dont_know", "dk", "don_t_know", "dontknow", "do_not_know", "98", "-98", "888"}
_PREFER_NOT = {
    "prefer_not",
    "prefer_not_to_answer",
    "prefer_not_to_say",
    "refused",
    "refuse",
    "no_answer",
    "pna",
    "99",
    "-99",
    "999",
}


def special_choice(choices: Sequence[ChoiceLike], which: str) -> str | None:
    """The name of the form's "don't know" (``which="dont_know"``) or "prefer not" choice."""
    wanted = _DONT_KNOW if which == "dont_know" else _PREFER_NOT
    for choice in choices:
        if choice.name.lower() in wanted:
            return choice.name
    return None


def question_kind(qtype: str) -> str:
    """The XLSForm type normalised: ``select one`` → ``select_one``, ``select all that apply`` →
    ``select_multiple``, ``dateTime`` → ``datetime``."""
    kind = qtype.strip().lower().replace(" ", "_")
    if kind.startswith("select_all_that_apply") or kind.startswith("select_multiple"):
        return "select_multiple"
    if kind.startswith("select_one"):
        return "select_one"
    if kind in {"datetime", "date_time"}:
        return "datetime"
    return kind


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SEP = re.compile(r"[\s,;]+")
_WHOLE = re.compile(r"^\d+$")
# "today" in the interview's languages; both apostrophes, and without one.
_TODAY = {"today", "aujourd'hui", "aujourd\u2019hui", "aujourdhui", "auj"}


class NoChoiceMatch(AnswerError):
    """Typed text that is neither a position, nor a choice's name, nor its label: the
    interview shows it as a filter over the list instead."""


def _by_name(name: str, choices: Sequence[ChoiceLike]) -> str | None:
    for choice in choices:
        if choice.name == name:
            return choice.name
    lowered = name.lower()
    for choice in choices:
        if choice.name.lower() == lowered:
            return choice.name
    return None


def _pick_choice(
    token: str,
    choices: Sequence[ChoiceLike],
    labels: Sequence[str],
    *,
    shown: Sequence[int] | None,
    names_only: bool,
    lang: str | None,
) -> str:
    """One choice from what was typed (issue 12: a bare number is a position on screen).

    ``=NAME`` is always a name. A whole number is the position in the list as shown
    (``shown``: indexes into ``choices``, after a filter); it is read as a name only where it
    cannot be a position (0, or beyond the list). Anything else is a name, then a label.
    """
    if token.startswith("=") and len(token) > 1:
        picked = _by_name(token[1:], choices)
        if picked is None:
            raise AnswerError(say("no_choice_name", lang))
        return picked
    if names_only:
        picked = _by_name(token, choices)
        if picked is None:
            raise AnswerError(say("no_choice_name", lang))
        return picked
    view = list(shown) if shown is not None else list(range(len(choices)))
    if _WHOLE.match(token):
        position = int(token)
        if 1 <= position <= len(view):
            return choices[view[position - 1]].name
        picked = _by_name(token, choices)
        if picked is None:
            raise AnswerError(say("choose_number", lang, count=len(view)))
        return picked
    picked = _by_name(token, choices)
    if picked is not None:
        return picked
    wanted = fold(token.strip())
    for choice, label in zip(choices, labels, strict=False):
        if fold(label.strip()) == wanted:
            return choice.name
    raise NoChoiceMatch(say("choose_number", lang, count=len(view)))


def parse_answer(
    kind: str,
    text: str,
    *,
    choices: Sequence[ChoiceLike] = (),
    labels: Sequence[str] = (),
    shown: Sequence[int] | None = None,
    names_only: bool = False,
    parameters: Mapping[str, str] | None = None,
    today: _dt.date | None = None,
    lang: str | None = None,
) -> str:
    """Turn what was typed for a question of ``kind`` into its submission text ("" = empty).

    ``names_only`` (an answers file) takes choices by name alone, never by position.
    """
    value = text.strip()
    if value == "":
        return ""
    if kind in {"select_one", "select_multiple", "rank"}:
        tokens = [value] if kind == "select_one" else [t for t in _SEP.split(value) if t]
        picked = [
            _pick_choice(t, choices, labels, shown=shown, names_only=names_only, lang=lang)
            for t in tokens
        ]
        if kind == "select_one":
            return picked[0]
        if kind == "rank":
            # A rank keeps the order given, each choice once.
            return " ".join(dict.fromkeys(picked))
        # ODK stores select_multiple values space-separated in choice order (DESIGN §4).
        return " ".join(c.name for c in choices if c.name in set(picked))
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", value):
            raise AnswerError(say("whole_number", lang))
        return str(int(value))
    if kind in {"decimal", "range"}:
        candidate = value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
        try:
            number = float(candidate)
        except ValueError:
            raise AnswerError(say("a_number", lang)) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise AnswerError(say("finite", lang))
        if kind == "range":
            _check_range(number, parameters or {}, lang=lang)
        return candidate.lstrip("+")
    if kind == "date":
        return _parse_date(value, today=today, lang=lang)
    if kind == "time":
        return _parse_time(value, lang=lang)
    if kind == "datetime":
        day, _, clock = value.replace("T", " ").partition(" ")
        if not clock:
            raise AnswerError(say("date_and_time", lang))
        return f"{_parse_date(day, today=today, lang=lang)}T{_parse_time(clock, lang=lang)}"
    if kind == "geopoint":
        return _parse_geopoint(value, lang=lang)
    if kind == "acknowledge":
        if value.lower() in {"ok", "y", "yes", "1", "o", "oui"}:
            return "OK"
        raise AnswerError(say("acknowledge", lang))
    return value


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _check_range(number: float, parameters: Mapping[str, str], *, lang: str | None) -> None:
    """The range's own bounds, in the interviewer's words (the engine's message would name
    the field)."""
    try:
        start = float(parameters.get("start", "1"))
        end = float(parameters.get("end", "10"))
        step = float(parameters.get("step", "1"))
    except ValueError:
        return  # the engine decides what a malformed range accepts
    low, high = min(start, end), max(start, end)
    bounds = {"start": _number_text(low), "end": _number_text(high)}
    if not low <= number <= high:
        if step and step != 1:
            raise AnswerError(say("range_step", lang, step=_number_text(abs(step)), **bounds))
        raise AnswerError(say("range", lang, **bounds))
    if step and abs(((number - start) / step) - round((number - start) / step)) > 1e-9:
        raise AnswerError(say("range_step", lang, step=_number_text(abs(step)), **bounds))


def _parse_date(value: str, *, today: _dt.date | None, lang: str | None) -> str:
    if value.lower() in _TODAY:
        return (today or _dt.date.today()).isoformat()
    if not _DATE.match(value):
        raise AnswerError(say("date_format", lang))
    try:
        return _dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise AnswerError(say("date_missing", lang)) from None


def _parse_time(value: str, *, lang: str | None) -> str:
    match = _TIME.match(value)
    if not match:
        raise AnswerError(say("time_format", lang))
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise AnswerError(say("time_format", lang))
    # ODK's time format carries milliseconds and the local UTC offset.
    offset = _dt.datetime.now().astimezone().strftime("%z")
    return f"{hour:02d}:{minute:02d}:{second:02d}.000{offset[:3]}:{offset[3:]}"


def _parse_geopoint(value: str, *, lang: str | None) -> str:
    parts = [p for p in _SEP.split(value) if p]
    if not 2 <= len(parts) <= 4:
        raise AnswerError(say("geopoint_format", lang))
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise AnswerError(say("geopoint_format", lang)) from None
    if not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
        raise AnswerError(say("geopoint_range", lang))
    # Missing altitude and accuracy stay missing: "0 0" would read as a perfect GPS fix.
    return " ".join(parts)
