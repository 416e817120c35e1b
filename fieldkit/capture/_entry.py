"""What the interviewer types at a prompt: a command, or an answer to parse for its question type.

Answers are turned into the text a submission holds (docs/internals.md "Answers"): choice
names, select_multiple names space-separated in choice order, dates ``YYYY-MM-DD``, geopoints
``"lat lon alt acc"``. A parse failure raises ``AnswerError`` whose message describes the
expected input, never the text that was typed (it may be personal, DOMAIN §5).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fieldkit.errors import AnswerError

__all__ = [
    "COMMANDS",
    "Command",
    "ChoiceLike",
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

HELP_LINES: tuple[tuple[str, str], ...] = (
    ("Enter", "keep the value shown in [brackets], or skip a question that is not required"),
    (":b  :back", "go back one question"),
    (":j N  :jump N|name", "go to question N (or by its name)"),
    (":r  :review", "review every answer; change one; finalize"),
    (":l CODE  :lang CODE", "switch the form's language, e.g. :lang fr"),
    (":skip", "leave this question empty (recorded as skipped, never as 'no')"),
    (":dk  :pn", "don't know / prefer not to answer, where the question offers them"),
    (":del", "remove this repeat entry (e.g. a household member added by mistake)"),
    (":s  :save", "save the draft and stop; resume later with --resume"),
    (":q  !!  Ctrl-C", "QUICK EXIT: save the draft, clear the screen, lock the workspace"),
    (":h  :help", "this help"),
)


def parse_command(text: str) -> Command | None:
    """The command ``text`` spells, or None when it is an answer; unknown ``:x`` is an error."""
    stripped = text.strip()
    if not (stripped.startswith(":") or stripped == "!!"):
        return None
    word, _, arg = stripped.partition(" ")
    name = COMMANDS.get(word.lower())
    if name is None:
        raise AnswerError("unknown command; type :help for the list")
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


def _pick_choice(token: str, choices: Sequence[ChoiceLike], labels: Sequence[str]) -> str:
    lowered = token.lower()
    for choice in choices:
        if choice.name == token:
            return choice.name
    for choice in choices:
        if choice.name.lower() == lowered:
            return choice.name
    if token.isdigit() and 1 <= int(token) <= len(choices):
        return choices[int(token) - 1].name
    for choice, label in zip(choices, labels, strict=False):
        if label.strip().lower() == lowered:
            return choice.name
    raise AnswerError(f"choose a number from 1 to {len(choices)} or a choice's name")


def parse_answer(
    kind: str,
    text: str,
    *,
    choices: Sequence[ChoiceLike] = (),
    labels: Sequence[str] = (),
    today: _dt.date | None = None,
) -> str:
    """Turn what was typed for a question of ``kind`` into its submission text ("" = empty)."""
    value = text.strip()
    if value == "":
        return ""
    if kind in {"select_one"}:
        return _pick_choice(value, choices, labels)
    if kind == "select_multiple":
        picked = {_pick_choice(token, choices, labels) for token in _SEP.split(value) if token}
        # ODK stores select_multiple values space-separated in choice order (DESIGN §4).
        return " ".join(c.name for c in choices if c.name in picked)
    if kind == "rank":
        # A rank keeps the order given, each choice once.
        ranked = [_pick_choice(token, choices, labels) for token in _SEP.split(value) if token]
        return " ".join(dict.fromkeys(ranked))
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", value):
            raise AnswerError("enter a whole number, e.g. 12")
        return str(int(value))
    if kind in {"decimal", "range"}:
        candidate = value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
        try:
            number = float(candidate)
        except ValueError:
            raise AnswerError("enter a number, e.g. 3.5") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise AnswerError("enter a finite number")
        return candidate.lstrip("+")
    if kind == "date":
        return _parse_date(value, today=today)
    if kind == "time":
        return _parse_time(value)
    if kind == "datetime":
        day, _, clock = value.replace("T", " ").partition(" ")
        if not clock:
            raise AnswerError("enter a date and time as YYYY-MM-DD HH:MM")
        return f"{_parse_date(day, today=today)}T{_parse_time(clock)}"
    if kind == "geopoint":
        return _parse_geopoint(value)
    if kind == "acknowledge":
        if value.lower() in {"ok", "y", "yes", "1"}:
            return "OK"
        raise AnswerError("type ok to acknowledge, or press Enter to leave it")
    return value


def _parse_date(value: str, *, today: _dt.date | None) -> str:
    if value.lower() == "today":
        return (today or _dt.date.today()).isoformat()
    if not _DATE.match(value):
        raise AnswerError("enter a date as YYYY-MM-DD, e.g. 2024-03-31")
    try:
        return _dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise AnswerError("that date does not exist; enter it as YYYY-MM-DD") from None


def _parse_time(value: str) -> str:
    match = _TIME.match(value)
    if not match:
        raise AnswerError("enter a time as HH:MM, e.g. 14:30")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise AnswerError("enter a time as HH:MM, e.g. 14:30")
    # ODK's time format carries milliseconds and the local UTC offset.
    offset = _dt.datetime.now().astimezone().strftime("%z")
    return f"{hour:02d}:{minute:02d}:{second:02d}.000{offset[:3]}:{offset[3:]}"


def _parse_geopoint(value: str) -> str:
    parts = [p for p in _SEP.split(value) if p]
    if not 2 <= len(parts) <= 4:
        raise AnswerError('enter a location as "latitude longitude", e.g. -1.28 36.82')
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise AnswerError('enter a location as "latitude longitude", e.g. -1.28 36.82') from None
    if not (-90 <= numbers[0] <= 90 and -180 <= numbers[1] <= 180):
        raise AnswerError("latitude must be within -90..90 and longitude within -180..180")
    # Missing altitude and accuracy stay missing: "0 0" would read as a perfect GPS fix.
    return " ".join(parts)
