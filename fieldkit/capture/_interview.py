"""The terminal interview: one question at a time over a FormSession (DESIGN §5, DOMAIN §4).

Calm, quick and forgiving: every answer is checked at once and saved as a draft before the
next question; commands work at every prompt; a quick exit saves, clears the screen and
hands back so the caller can lock the workspace. No SQL or crypto here: persistence goes
through a ``Recorder`` (``DraftRecorder`` in ``fieldkit.capture._records``), the person's case
and consent through a ``CaseGate`` (``fieldkit.capture._case``).

What the interviewer must read stays on screen: a warning is printed just above the prompt it
concerns (never above a list or a review table that would push it away), and a long choice
list is paged under its question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from fieldkit.capture._asking import (
    NO,
    POSITIONS,
    SELECTS,
    YES,
    QuestionAsking,
    dim,
    line,
    plain_engine_message,
)
from fieldkit.capture._choices import ChoiceView
from fieldkit.capture._entry import (
    Command,
    parse_command,
    special_choice,
)
from fieldkit.capture._navigation import AddRepeat, Question, Step, build_steps
from fieldkit.capture._screen import (
    problem_message,
    required_message,
)
from fieldkit.capture._terminal import QuickExit, Terminal
from fieldkit.capture._words import help_lines, say
from fieldkit.errors import AnswerError, FieldkitError
from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.console import RenderableType

    from fieldkit.capture._case import CaseGate
    from fieldkit.capture._contacts import Contact
    from fieldkit.forms import Form, FormSession, Node, NodeState
    from fieldkit.media import Taken

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

    def take_file(self, *, form: Form, node: Node, path_text: str, question: str) -> Taken:
        """Check and copy a file for one of this record's questions (``fieldkit.media``)."""
        ...

    def finalize(self, submission: dict[str, str]) -> str:
        """Finalize the record; return its id."""
        ...


@dataclass(frozen=True)
class Outcome:
    """How an interview ended: ``finalized``, ``saved`` (``:save``), ``quit`` (quick exit) or
    ``cancelled`` (nothing was picked to resume)."""

    status: Literal["finalized", "saved", "quit", "cancelled"]
    record_id: str | None


class _Leave(Exception):  # noqa: N818 - control flow
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class Interview(QuestionAsking):
    """Drive one record's interview to finalize, save-and-exit or quick exit."""

    def __init__(
        self,
        *,
        form: Form,
        session: FormSession,
        terminal: Terminal,
        recorder: Recorder,
        check_finalize: Callable[[FormSession], None] | None = None,
        case: CaseGate | None = None,
        contacts: Sequence[Contact] = (),
        emergency: frozenset[str] = frozenset(),
    ) -> None:
        self.form = form
        self.session = session
        self.terminal = terminal
        self.recorder = recorder
        self.check_finalize = check_finalize
        self.case = case
        self.contacts = list(contacts)
        self.emergency = emergency
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
        self._cached_order: dict[str, int] | None = None
        # Questions already passed: an empty one reads "(skipped)" in the review, not "(not
        # asked yet)".
        self._visited: set[str] = set()
        # Messages for the next prompt, printed right above it so nothing pushes them away.
        self._notices: list[RenderableType] = []
        # Values offered in [brackets] and taken with Enter (a proposed case code, answers
        # from the case's consent); confirmed answers are passed over going forward.
        self._proposed: dict[str, str] = {}
        self._confirmed: set[str] = set()
        self._case_first = False
        self._view: tuple[tuple[str, str | None, tuple[str, ...]], ChoiceView] | None = None
        self._expanded: set[str] = set()

    def run(self, *, resume: bool = False, start_at_review: bool = False) -> Outcome:
        """Ask until the record is finalized or the interviewer leaves."""
        if resume:
            self._pos = self._resume_position()
            steps = self._steps()
            self._visited.update(s.path for s in steps[: self._pos] if isinstance(s, Question))
            step = steps[self._pos] if self._pos < len(steps) else None
            if isinstance(step, Question):
                self._inform(say("resuming", self._lang, number=step.number))
        if start_at_review:
            # An edit: every question was answered or skipped when the record was finalized.
            steps = self._steps()
            self._visited.update(s.path for s in steps if isinstance(s, Question))
            self._pos = len(steps)
        case = self.case
        if case is not None and case.ask_first and case.path and not start_at_review:
            self._case_first = not self.session.node(case.path).value
        try:
            while True:
                steps = self._steps()
                if self._case_first:
                    index = _find_step(steps, str(case.path if case else ""))
                    if index is None:  # the case question is hidden: ask in order
                        self._case_first = False
                    else:
                        self._pos = index
                if self._pos >= len(steps):
                    self._review()
                    continue
                step = steps[self._pos]
                if isinstance(step, AddRepeat):
                    self._ask_repeat(step)
                elif step.path in self._confirmed and not self._case_first:
                    self._pos += 1  # confirmed in one go (the case's consent): not asked again
                else:
                    self._ask_question(step)
        except _Leave as leave:
            return leave.outcome
        except (QuickExit, KeyboardInterrupt):
            # Ctrl-C anywhere (not only at a prompt) is the quick exit too.
            return self._quick_exit()

    def _ask_repeat(self, step: AddRepeat) -> None:
        from rich.text import Text

        lang = self._lang
        label = self._repeat_label(step.template)
        question = say("add_another" if step.count else "add_first", lang, label=label)
        heading = Text(question, style="bold")
        heading.append(f"  {say('yn', lang)}", style="dim")
        self.terminal.show("", heading)
        self._show_notices()
        text = self.terminal.ask("> ")
        if self._took_command(text, state=None, kind=""):
            return
        answer = text.strip().lower()
        if answer in YES:
            name = step.template.rsplit("/", 1)[1]
            try:
                self.session.add_repeat(f"{step.parent}/{name}")
            except AnswerError as exc:  # e.g. the engine's limit on instances
                self._warn(plain_engine_message(str(exc)))
                self._pos += 1
                return
            self._cached_steps = None
            self._cached_order = None
            self._touched = True
            self._save()
            # The new instance's first question now sits where this prompt was.
        elif answer in NO or answer == "":
            self._pos += 1
        else:
            self._warn(say("answer_yn", lang))

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
            # What was typed and revealed leaves the screen with the interview.
            self.terminal.clear()
            self.terminal.show(line(say("saved", self._lang, record=record_id)))
            raise _Leave(Outcome("saved", record_id))
        elif name == "remove":
            self._remove_instance(state)
        elif name in {"skip", "dont_know", "prefer_not"}:
            if state is None:
                self._warn(say("no_question_here", self._lang))
            else:
                self._special(name, state=state, kind=kind)

    def _special(self, name: str, *, state: NodeState, kind: str) -> None:
        lang = self._lang
        offered = {
            which: special_choice(list(state.choices), which) if kind in SELECTS else None
            for which in ("dont_know", "prefer_not")
        }
        if name == "skip":
            if state.required:
                extra = [
                    say(f"offers_{'dk' if w == 'dont_know' else 'pn'}", lang)
                    for w, c in offered.items()
                    if c
                ]
                message = required_message(state, lang)
                self._warn(f"{message} ({' · '.join(extra)})" if extra else message)
                return
            self._set(state, "")
            return
        choice = offered[name]
        if choice is None:
            short = "dk" if name == "dont_know" else "pn"
            key = f"required_no_{short}" if state.required else f"optional_no_{short}"
            self._warn(say(key, lang))
            return
        self._set(state, choice)

    def _remove_instance(self, state: NodeState | None) -> None:
        """Remove the repeat instance this question belongs to, after a y/n confirmation."""
        match = _INSTANCE.match(str(state.path)) if state is not None else None
        if match is None:
            self._warn(say("not_in_repeat", self._lang))
            return
        instance = match[1]
        label = self._repeat_label(POSITIONS.sub("", instance))
        self.terminal.show(line(say("remove_instance", self._lang, label=label)))
        if self.terminal.ask("> ").strip().lower() not in YES - {"1"}:
            return
        try:
            self.session.remove_repeat(instance)
            self._cached_steps = None
            self._cached_order = None
        except AnswerError as exc:
            self._warn(plain_engine_message(str(exc)))
            return
        self._touched = True
        self._save()
        steps = self._steps()
        self._pos = min(self._pos, max(len(steps) - 1, 0))

    def _back(self) -> None:
        if self._case_first:
            return  # nothing comes before the case code
        steps = self._steps()
        pos = min(self._pos, len(steps)) - 1
        while pos > 0 and isinstance(steps[pos], AddRepeat):
            pos -= 1
        self._pos = max(pos, 0)
        step = steps[self._pos] if steps else None
        if isinstance(step, Question):
            self._confirmed.discard(step.path)  # going back to it asks it again

    def _jump(self, target: str) -> None:
        if self._case_first:
            self._warn(say("case_first", self._lang))
            return
        steps = self._steps()
        index = _find_step(steps, target)
        if index is None:
            self._warn(say("no_such_step", self._lang))
            return
        self._pos = index
        step = steps[index]
        if isinstance(step, Question):
            self._confirmed.discard(step.path)

    def _language(self, wanted: str) -> None:
        languages = [str(lang) for lang in (self.form.languages or [])]
        match = _match_language(wanted, languages)
        if match is None:
            offered = ", ".join(languages) or "—"
            self._warn(say("languages", self._lang, offered=offered))
            return
        self.session.set_language(match)
        self._view = None
        self._inform(say("language_now", self._lang, language=match))

    def _help(self) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=False, box=None, padding=(0, 2))
        for keys, what in help_lines(self._lang):
            table.add_row(Text(keys, style="bold"), Text(what))
        self.terminal.show("", table)

    def _review(self) -> None:
        from fieldkit.capture._review import render_review

        lang = self._lang
        while True:
            steps = self._steps()
            self.terminal.show(
                *render_review(
                    session=self.session,
                    steps=steps,
                    visited=self._visited,
                    show_sensitive=self.show_sensitive,
                    repeat_label=self._repeat_label,
                    emergency=self.emergency,
                )
            )
            problems = self._problems()
            self.terminal.show(dim(say("review_keys", lang)))
            self._show_notices()
            text = self.terminal.ask("review> ").strip()
            lowered = text.lower()
            target = text
            if lowered.startswith(":") or lowered == "!!":
                try:
                    command = parse_command(text, lang=lang)
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
                    lang = self._lang
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
                    listed = "; ".join(f"{where} {why}" for where, why in problems)
                    self._warn(say("cannot_finalize", lang, problems=listed))
                    continue
                self._finalize()
                continue
            index = _find_step(steps, target.strip())
            if index is None:
                self._warn(say("review_type", lang))
                continue
            self._pos = index
            step = steps[index]
            if isinstance(step, Question):
                self._confirmed.discard(step.path)
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
            state = self.session.node(path)
            found.append((where, problem_message(state, self._lang) or inert(problem.message)))
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
        # A typed phone number or a revealed answer must not stay on screen (DOMAIN §4).
        self.terminal.clear()
        self.terminal.show(line(say("finalized", self._lang, record=record_id)))
        case = self.case
        if case is not None and case.mode == "consent" and case.path is not None:
            code = self.session.node(case.path).value
            if code:  # the one thing the worker must still copy: onto the person's card
                self.terminal.show(line(say("finalized_case", self._lang, code=code)))
        raise _Leave(Outcome("finalized", record_id))

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
            if value != "" and value != (self._default(step.path) or ""):
                last = index
        return last + 1

    def _steps(self) -> list[Step]:
        if self._cached_steps is None:
            self._cached_steps = build_steps(self.form, self.session)
        return self._cached_steps


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
