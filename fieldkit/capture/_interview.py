"""The terminal interview: one question at a time over a FormSession (DESIGN §5, DOMAIN §4).

Calm, quick and forgiving: every answer is checked at once and saved as a draft before the
next question; commands work at every prompt; a quick exit saves, clears the screen and
hands back so the caller can lock the workspace. No SQL or crypto here: persistence goes
through a ``Recorder`` (``DraftRecorder`` in ``fieldkit.capture._records``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from fieldkit.capture._entry import (
    HELP_LINES,
    Command,
    parse_answer,
    parse_command,
    question_kind,
    special_choice,
)
from fieldkit.capture._navigation import AddRepeat, Question, Step, build_steps
from fieldkit.capture._terminal import QuickExit, Terminal
from fieldkit.errors import AnswerError, FieldkitError
from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.console import RenderableType

    from fieldkit.forms import Choice, Form, FormSession, Node, NodeState

__all__ = ["Interview", "Outcome", "Recorder"]

# The innermost repeat instance in a path: "/data/hh[2]/member[3]/age" → "/data/hh[2]/member[3]".
_INSTANCE = re.compile(r"^(.*\[\d+\])/")


class Recorder(Protocol):
    """Where the interview keeps its answers (a workspace draft, in the CLI)."""

    @property
    def record_id(self) -> str | None:
        """The draft's id once it exists."""
        ...

    def save(self, answers: dict[str, str]) -> str:
        """Save the draft durably (creating it on first use); return its id."""
        ...

    def finalize(self, submission: dict[str, str]) -> str:
        """Finalize the record; return its id."""
        ...


@dataclass(frozen=True)
class Outcome:
    """How an interview ended: ``finalized``, ``saved`` (``:save``) or ``quit`` (quick exit)."""

    status: Literal["finalized", "saved", "quit"]
    record_id: str | None


class _Leave(Exception):  # noqa: N818 - control flow
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class Interview:
    """Drive one record's interview to finalize, save-and-exit or quick exit."""

    def __init__(
        self,
        *,
        form: Form,
        session: FormSession,
        terminal: Terminal,
        recorder: Recorder,
        check_finalize: Callable[[FormSession], None] | None = None,
    ) -> None:
        self.form = form
        self.session = session
        self.terminal = terminal
        self.recorder = recorder
        self.check_finalize = check_finalize
        self.show_sensitive = False
        nodes = list(form.nodes())
        self._templates: dict[str, Node] = {node.path: node for node in nodes}
        self._pos = 0
        # A draft appears at the first answer: an interview left before any leaves nothing.
        self._touched = False
        self._from_review = False
        # The steps change only when an answer or a repeat does: computed once per change,
        # so a 2,000-question form stays quick between questions.
        self._cached_steps: list[Step] | None = None
        # Questions already passed: an empty one reads "(skipped)" in the review, not "(not
        # asked yet)".
        self._visited: set[str] = set()

    # ----------------------------------------------------------------- entry points
    def run(self, *, resume: bool = False, start_at_review: bool = False) -> Outcome:
        """Ask until the record is finalized or the interviewer leaves."""
        if resume:
            self._pos = self._resume_position()
            steps = self._steps()
            self._visited.update(s.path for s in steps[: self._pos] if isinstance(s, Question))
            step = steps[self._pos] if self._pos < len(steps) else None
            if isinstance(step, Question):
                self.terminal.show(
                    f"[dim]Resuming at question {step.number}; earlier answers are kept "
                    "(:review shows them).[/dim]"
                )
        if start_at_review:
            # An edit: every question was answered or skipped when the record was finalized.
            steps = self._steps()
            self._visited.update(s.path for s in steps if isinstance(s, Question))
            self._pos = len(steps)
        try:
            while True:
                steps = self._steps()
                if self._pos >= len(steps):
                    self._review()
                    continue
                step = steps[self._pos]
                if isinstance(step, AddRepeat):
                    self._ask_repeat(step)
                else:
                    self._ask_question(step, total=_count_questions(steps))
        except _Leave as leave:
            return leave.outcome
        except (QuickExit, KeyboardInterrupt):
            # Ctrl-C anywhere (not only at a prompt) is the quick exit too.
            return self._quick_exit()

    # ----------------------------------------------------------------- steps
    def _ask_question(self, step: Question, *, total: int) -> None:
        state = self.session.node(step.path)
        kind = question_kind(str(state.type))
        self._render_question(state, step=step, total=total, kind=kind)
        current = str(state.value or "")
        text = self.terminal.ask(self._prompt(state, kind, current))
        try:
            command = parse_command(text)
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if command is not None:
            self._command(command, state=state, kind=kind)
            return
        if kind == "note" or _readonly(state) or kind in _MEDIA:
            self._advance(step.path)
            return
        if text.strip() == "" and current != "":
            self._advance(step.path)  # Enter keeps the value shown in brackets
            return
        try:
            value = parse_answer(
                kind, text, choices=_choices(state), labels=_choice_labels(state, self._lang)
            )
        except AnswerError as exc:
            self._warn(str(exc))
            return
        self._set(state, value)

    def _set(self, state: NodeState, value: str) -> None:
        """Set an answer, keep it only if valid, save the draft, move on."""
        path = str(state.path)
        old = str(state.value or "")
        self._cached_steps = None
        try:
            if value == "":
                self.session.clear(path)
            else:
                self.session.set(path, value)
        except AnswerError as exc:  # the engine's own check (its messages hold no answer text)
            self._warn(str(exc))
            return
        after = self.session.node(path)
        problem = _problem_message(after)
        if problem:
            # Restore the previous answer: the draft never holds an answer the form refuses.
            if old == "":
                self.session.clear(path)
            else:
                self.session.set(path, old)
            self._warn(problem)
            return
        self._touched = True
        self._save()
        self._advance(path)

    def _ask_repeat(self, step: AddRepeat) -> None:
        label = self._repeat_label(step.template)
        question = f"Add another {label}?" if step.count else f"Add a {label}?"
        self.terminal.show("", f"[bold]{_escape(question)}[/bold]  [dim](y/n)[/dim]")
        text = self.terminal.ask("> ")
        try:
            command = parse_command(text)
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if command is not None:
            self._command(command, state=None, kind="")
            return
        answer = text.strip().lower()
        if answer in {"y", "yes", "1"}:
            name = step.template.rsplit("/", 1)[1]
            try:
                self.session.add_repeat(f"{step.parent}/{name}")
            except AnswerError as exc:  # e.g. the engine's limit on instances
                self._warn(str(exc))
                self._pos += 1
                return
            self._cached_steps = None
            self._touched = True
            self._save()
            # The new instance's first question now sits where this prompt was.
        elif answer in {"n", "no", "0", ""}:
            self._pos += 1
        else:
            self._warn("answer y or n")

    # ----------------------------------------------------------------- commands
    def _command(self, command: Command, *, state: NodeState | None, kind: str) -> None:
        name = command.name
        if name == "quit":
            raise QuickExit
        if name == "help":
            self._help()
        elif name == "back":
            self._from_review = False
            self._back()
        elif name == "jump":
            self._from_review = False
            self._jump(command.arg)
        elif name == "review":
            self._review()
        elif name == "lang":
            self._language(command.arg)
        elif name == "save":
            record_id = self._save(force=True)
            self.terminal.show(
                f"Draft saved. Resume with: fieldkit capture {self.form.id} --resume {record_id}"
            )
            raise _Leave(Outcome("saved", record_id))
        elif name == "remove":
            self._remove_instance(state)
        elif name in {"skip", "dont_know", "prefer_not"}:
            if state is None:
                self._warn("there is no question here to answer")
            else:
                self._special(name, state=state, kind=kind)

    def _special(self, name: str, *, state: NodeState, kind: str) -> None:
        if name == "skip":
            if state.required:
                self._warn(_required_message(state))
                return
            self._set(state, "")
            return
        choice = None
        if kind in {"select_one", "select_multiple"}:
            choice = special_choice(_choices(state), name)
        if choice is None:
            what = "don't know" if name == "dont_know" else "prefer not to answer"
            self._warn(f"this question does not offer {what!r}; :skip leaves it empty")
            return
        self._set(state, choice)

    def _remove_instance(self, state: NodeState | None) -> None:
        """Remove the repeat instance this question belongs to, after a y/n confirmation."""
        match = _INSTANCE.match(str(state.path)) if state is not None else None
        if match is None:
            self._warn("this question is not inside a repeat")
            return
        instance = match[1]
        label = self._repeat_label(re.sub(r"\[\d+\]", "", instance))
        self.terminal.show(f"Remove this {_escape(label)} and all its answers? (y/n)")
        if self.terminal.ask("> ").strip().lower() not in {"y", "yes"}:
            return
        try:
            self.session.remove_repeat(instance)
            self._cached_steps = None
        except AnswerError as exc:
            self._warn(str(exc))
            return
        self._touched = True
        self._save()
        steps = self._steps()
        self._pos = min(self._pos, max(len(steps) - 1, 0))

    def _back(self) -> None:
        steps = self._steps()
        pos = min(self._pos, len(steps)) - 1
        while pos > 0 and isinstance(steps[pos], AddRepeat):
            pos -= 1
        self._pos = max(pos, 0)

    def _jump(self, target: str) -> None:
        steps = self._steps()
        index = _find_step(steps, target)
        if index is None:
            self._warn("no visible question by that number or name; :review lists them")
            return
        self._pos = index

    def _language(self, wanted: str) -> None:
        languages = [str(lang) for lang in (self.form.languages or [])]
        match = _match_language(wanted, languages)
        if match is None:
            offered = ", ".join(languages) or "none"
            self._warn(f"this form's languages: {offered}")
            return
        self.session.set_language(match)
        self.terminal.show(f"[dim]Language: {_escape(match)}[/dim]")

    def _help(self) -> None:
        from rich.table import Table

        table = Table(show_header=False, box=None, padding=(0, 2))
        for keys, what in HELP_LINES:
            table.add_row(f"[bold]{_escape(keys)}[/bold]", _escape(what))
        self.terminal.show("", table)

    # ----------------------------------------------------------------- review
    def _review(self) -> None:
        from fieldkit.capture._review import render_review

        while True:
            steps = self._steps()
            self.terminal.show(
                render_review(
                    session=self.session,
                    steps=steps,
                    visited=self._visited,
                    show_sensitive=self.show_sensitive,
                )
            )
            problems = self._problems()
            self.terminal.show(
                "[dim]number = change that answer · f = finalize · s = show/hide sensitive "
                "answers · Enter = back to the questions · :q = quick exit[/dim]"
            )
            text = self.terminal.ask("review> ").strip()
            lowered = text.lower()
            target = text
            if lowered.startswith(":") or lowered == "!!":
                try:
                    command = parse_command(text)
                except AnswerError as exc:
                    self._warn(str(exc))
                    continue
                assert command is not None
                if command.name == "back":
                    lowered = ""
                elif command.name == "jump":
                    target = command.arg
                elif command.name != "review":
                    # quit, save, lang, help: the same as at any question.
                    self._command(command, state=None, kind="")
                    continue
                else:
                    continue
            if lowered == "":
                if self._pos >= len(steps):
                    self._pos = max(len(steps) - 1, 0)
                    while self._pos > 0 and isinstance(steps[self._pos], AddRepeat):
                        self._pos -= 1
                return
            if lowered in {"s", "show"}:
                self.show_sensitive = not self.show_sensitive
                continue
            if lowered in {"f", "finalize"}:
                if problems:
                    self._warn(
                        "Cannot finalize yet: "
                        + "; ".join(f"{where} {why}" for where, why in problems)
                    )
                    continue
                self._finalize()
            index = _find_step(steps, target.strip())
            if index is None:
                self._warn("type a question number from the list, f, s or Enter")
                continue
            self._pos = index
            self._from_review = True
            return

    def _problems(self) -> list[tuple[str, str]]:
        """What stops finalize, as (question number and name, reason) — never the answers."""
        steps = self._steps()
        numbers = {s.path: s.number for s in steps if isinstance(s, Question)}
        found = []
        for problem in self.session.problems():
            path = problem.path
            name = path.rsplit("/", 1)[-1]
            number = numbers.get(path)
            where = f"{number}. {name}" if number else name
            found.append((where, problem.message))
        return found

    def _finalize(self) -> None:
        if self.check_finalize is not None:
            try:
                self.check_finalize(self.session)
            except FieldkitError as exc:
                self._warn(str(exc))
                return
        self._save()
        record_id = self.recorder.finalize(self.session.submission())
        self.terminal.show(f"[green]Finalized.[/green] Record {record_id}")
        raise _Leave(Outcome("finalized", record_id))

    # ----------------------------------------------------------------- helpers
    def _save(self, *, force: bool = False) -> str | None:
        if not force and self.recorder.record_id is None and not self._touched:
            return None  # nothing answered yet: no empty draft left behind
        return self.recorder.save(dict(self.session.answers()))

    def _quick_exit(self) -> Outcome:
        try:
            record_id = self._save()
        finally:
            self.terminal.clear()
        return Outcome("quit", record_id)

    def _advance(self, path: str) -> None:
        self._visited.add(path)
        steps = self._steps()
        if self._from_review:
            # A change made from the review screen goes straight back to it.
            self._from_review = False
            self._pos = len(steps)
            return
        for index, step in enumerate(steps):
            if isinstance(step, Question) and step.path == path:
                self._pos = index + 1
                return
        self._pos += 1

    def _resume_position(self) -> int:
        """The step after the last answered question: where the interview stopped.

        A value equal to the question's default does not count as answered: defaults are
        there from the start, before anyone reached the question.
        """
        steps = self._steps()
        last = -1
        for index, step in enumerate(steps):
            if not isinstance(step, Question):
                continue
            value = str(self.session.node(step.path).value or "")
            node = self._templates.get(re.sub(r"\[\d+\]", "", step.path))
            default = node.default if node is not None else None
            if value != "" and value != (default or ""):
                last = index
        return last + 1

    def _steps(self) -> list[Step]:
        if self._cached_steps is None:
            self._cached_steps = build_steps(self.form, self.session)
        return self._cached_steps

    @property
    def _lang(self) -> str | None:
        return self.session.lang

    def _warn(self, message: str) -> None:
        self.terminal.show(f"[yellow]! {_escape(message)}[/yellow]")

    def _repeat_label(self, template: str) -> str:
        node = self._templates.get(template)
        label = str(node.label(self._lang) or "") if node is not None else ""
        return label or template.rsplit("/", 1)[1].replace("_", " ")

    def _section(self, path: str) -> str:
        """The label of the innermost labelled group or repeat around a question."""
        node = self._templates.get(re.sub(r"\[\d+\]", "", path))
        parent = node.parent if node is not None else None
        while parent is not None and parent.parent is not None:
            label = str(parent.label(self._lang) or "")
            if label:
                return " ".join(label.split())
            parent = parent.parent
        return ""

    def _render_question(self, state: NodeState, *, step: Question, total: int, kind: str) -> None:
        from rich.text import Text

        lines: list[RenderableType] = [""]
        head = Text(f"Question {step.number} of {total}", style="dim")
        section = self._section(str(state.path))
        if section:
            head.append(f"  · {section}", style="bold")
        if kind != "note" and state.required:
            head.append("  · required", style="dim")
        head.append("  · :help", style="dim")
        lines.append(head)
        label = state.label or state.name
        lines.append(Text(label, style="bold"))
        hint = state.hint
        if hint:
            lines.append(Text(hint, style="italic"))
        if kind in {"select_one", "select_multiple", "rank"}:
            for index, label_text in enumerate(_choice_labels(state, self._lang), start=1):
                lines.append(Text(f"  {index:>2}. {label_text}"))
        self.terminal.show(*lines)

    def _prompt(self, state: NodeState, kind: str, current: str) -> str:
        if kind in _MEDIA:
            self._warn(f"a {kind} cannot be taken in the terminal: it stays empty")
            return "[Enter to continue] > "
        if kind == "note" or _readonly(state):
            return "[Enter to continue] > "
        shown = ""
        if current:
            if state.sensitive and not self.show_sensitive:
                shown = "answered, hidden"
            else:
                shown = _display(state, current, self._lang)
        form_hint = _INPUT_HINTS.get(kind, "")
        params = state.parameters
        if kind == "range" and "start" in params and "end" in params:
            form_hint = f"number from {params['start']} to {params['end']}"
        parts = [p for p in (form_hint, f"[{shown}]" if shown else "") if p]
        return (" ".join(parts) + " > ") if parts else "> "


# Types a terminal cannot capture (ODK Collect uses the camera, microphone or file picker).
_MEDIA = frozenset({"image", "audio", "video", "file", "background-audio", "background_audio"})

_INPUT_HINTS = {
    "select_one": "number or name",
    "select_multiple": "numbers or names, separated by spaces or commas",
    "rank": "all numbers in order of preference",
    "integer": "whole number",
    "decimal": "number",
    "range": "number",
    "date": "YYYY-MM-DD",
    "time": "HH:MM",
    "datetime": "YYYY-MM-DD HH:MM",
    "geopoint": "latitude longitude",
    "acknowledge": "type ok",
}


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _readonly(state: NodeState) -> bool:
    return state.readonly


def _choices(state: NodeState) -> list[Choice]:
    return list(state.choices)


def _choice_labels(state: NodeState, lang: str | None) -> list[str]:
    return [str(choice.label(lang) or choice.name) for choice in _choices(state)]


def _display(state: NodeState, value: str, lang: str | None) -> str:
    """An answer as the interviewer reads it: choice labels for selects; control characters as
    U+FFFD, so an answer synced from another device cannot drive the terminal (escapes)."""
    choices = _choices(state)
    if not choices:
        return inert(value)
    labels = dict(zip((c.name for c in choices), _choice_labels(state, lang), strict=False))
    shown = ", ".join(labels.get(name, name) for name in value.split())
    return inert(shown)


def _problem_message(state: NodeState) -> str:
    """The form's message when ``state`` fails its constraint; "" when it is acceptable now.

    A required-but-empty answer is acceptable at this point only if it was not just asked for:
    the caller refuses Enter on a required question through this same check.
    """
    if not state.constraint_valid:
        message = state.constraint_message
        return message or "this answer is not allowed here"
    if state.required_empty:
        return _required_message(state)
    return ""


def _required_message(state: NodeState) -> str:
    message = state.required_message
    return message or "this question is required"


def _count_questions(steps: list[Step]) -> int:
    return sum(1 for step in steps if isinstance(step, Question))


def _find_step(steps: list[Step], target: str) -> int | None:
    target = target.strip()
    if not target:
        return None
    if target.isdigit():
        for index, step in enumerate(steps):
            if isinstance(step, Question) and step.number == int(target):
                return index
        return None
    for index, step in enumerate(steps):
        if isinstance(step, Question) and (
            step.path == target or step.path.rsplit("/", 1)[-1] == target
        ):
            return index
    return None


def _match_language(wanted: str, languages: list[str]) -> str | None:
    """``fr`` matches ``French (fr)``, ``fr`` or ``french``; case does not matter."""
    wanted = wanted.strip().lower()
    if not wanted:
        return None
    for lang in languages:
        lowered = lang.lower()
        code = lowered.rsplit("(", 1)[-1].rstrip(")") if "(" in lowered else lowered
        name = lowered.split("(", 1)[0].strip()
        if wanted in {lowered, code, name}:
            return lang
    return None
