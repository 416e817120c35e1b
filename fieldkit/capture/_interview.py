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

from fieldkit.capture._choices import ChoiceView
from fieldkit.capture._entry import (
    Command,
    NoChoiceMatch,
    parse_answer,
    parse_command,
    question_kind,
    special_choice,
)
from fieldkit.capture._label import plain_label
from fieldkit.capture._navigation import AddRepeat, Question, Step, build_steps
from fieldkit.capture._screen import (
    choice_labels,
    choice_rows,
    display_value,
    emergency_block,
    lines_needed,
    list_status,
    page_size,
    problem_message,
    question_text,
    required_message,
)
from fieldkit.capture._terminal import QuickExit, Terminal
from fieldkit.capture._words import help_lines, say
from fieldkit.errors import AnswerError, FieldkitError
from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from fieldkit.capture._case import CaseGate
    from fieldkit.capture._contacts import Contact
    from fieldkit.forms import Form, FormSession, Node, NodeState

__all__ = ["Interview", "Outcome", "Recorder"]

# The innermost repeat instance in a path: "/data/hh[2]/member[3]/age" → "/data/hh[2]/member[3]".
_INSTANCE = re.compile(r"^(.*\[\d+\])/")
_POSITIONS = re.compile(r"\[\d+\]")
_SELECTS = frozenset({"select_one", "select_multiple", "rank"})
# Appearances that ask for a searchable list in ODK (a dropdown, a search box).
_FILTER_APPEARANCES = ("minimal", "autocomplete", "search")
# What can be typed at a list without filtering it: positions, =names, commands, paging.
_ENTRY = re.compile(r"^(?:[\d\s,;]+|[:=].*|!!|[<>*])$")
_YES = {"y", "yes", "o", "oui", "1"}
_NO = {"n", "no", "non", "0"}


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
    """How an interview ended: ``finalized``, ``saved`` (``:save``), ``quit`` (quick exit) or
    ``cancelled`` (nothing was picked to resume)."""

    status: Literal["finalized", "saved", "quit", "cancelled"]
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

    # ----------------------------------------------------------------- entry points
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

    # ----------------------------------------------------------------- questions
    def _ask_question(self, step: Question) -> None:
        state = self.session.node(step.path)
        kind = question_kind(str(state.type))
        lang = self._lang
        self._prepare_case(state)
        above = self._block(state, step=step, kind=kind)
        if kind in _SELECTS and state.choices:
            width, height = self.terminal.size()
            used = lines_needed(above, width) + len(self._notices)
            size = page_size(used, height)
            appearance = str(state.appearance).lower()
            filtering = any(word in appearance for word in _FILTER_APPEARANCES)
            if filtering or len(state.choices) > size:
                # A search box shows no list until something is typed (or *), as in ODK.
                collapsed = "autocomplete" in appearance or "search" in appearance
                self._ask_list(state, kind=kind, above=above, size=size, collapsed=collapsed)
                return
            rows = [
                _row(position, label)
                for position, label in enumerate(choice_labels(state.choices, lang), start=1)
            ]
            above = [*above, *rows]
        self.terminal.show(*above)
        self._show_notices()
        text = self.terminal.ask(self._prompt(state, kind))
        self._handle(text, state=state, kind=kind, view=None)

    def _ask_list(
        self,
        state: NodeState,
        *,
        kind: str,
        above: list[RenderableType],
        size: int,
        collapsed: bool,
    ) -> None:
        """A long (or searchable) list: one page under the question, filtered as typed."""
        from rich.text import Text

        view = self._view_for(state)
        path = str(state.path)
        lang = self._lang
        notices = self._take_notices()
        hidden = collapsed and path not in self._expanded

        def draw(typed: str) -> list[RenderableType]:
            query = typed.strip()
            if query and not _ENTRY.match(query):
                shown = view.matches(query)
                page = view.page_of(size, shown=shown, page=0)
            else:
                query = view.query
                page = view.page_of(size)
            if hidden and not query:
                status = say("choices_collapsed", lang, total=view.total)
                return [Text(status, style="dim"), *notices]
            status = list_status(
                view,
                first=page.first,
                last=page.last,
                count=page.count,
                query=query,
                paged=page.pages > 1,
                lang=lang,
            )
            return [
                *choice_rows(view, rows=page.rows, lang=lang),
                Text(status, style="dim"),
                *notices,
            ]

        self.terminal.show(*above)
        text = self.terminal.ask_live(self._prompt(state, kind), draw=draw)
        typed = text.strip()
        if typed in {">", "<"}:
            view.turn(1 if typed == ">" else -1, size)
            self._expanded.add(path)
            return
        if typed == "*":
            view.set_filter("")
            self._expanded.add(path)
            return
        self._handle(text, state=state, kind=kind, view=view)

    def _handle(self, text: str, *, state: NodeState, kind: str, view: ChoiceView | None) -> None:
        """What was typed at a question: a command, Enter, or an answer."""
        lang = self._lang
        path = str(state.path)
        try:
            command = parse_command(text, lang=lang)
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if command is not None:
            self._command(command, state=state, kind=kind)
            return
        if kind == "note" or state.readonly or kind in _MEDIA:
            self._advance(path)
            return
        current = str(state.value or "")
        if text.strip() == "":
            if current != "":
                self._advance(path)  # Enter keeps the value shown in brackets
                return
            if path in self._proposed:
                self._set(state, self._proposed[path])
                return
        choices = list(state.choices)
        try:
            value = parse_answer(
                kind,
                text,
                choices=choices,
                labels=choice_labels(choices, lang),
                shown=view.shown if view is not None else None,
                parameters=state.parameters,
                lang=lang,
            )
        except NoChoiceMatch as exc:
            if view is not None and any(ch.isalpha() for ch in text):
                view.set_filter(text)
                self._expanded.add(path)
                if not view.shown:
                    self._warn(say("choices_none", lang, query=inert(text.strip())[:30]))
                return
            self._warn(str(exc))
            return
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if view is not None and value:
            labels = dict(zip(view.names, view.labels, strict=True))
            picked = ", ".join(labels.get(name, name) for name in value.split())
            self.terminal.show(_dim(say("picked", lang, label=picked)))
        self._set(state, value)

    def _set(self, state: NodeState, value: str) -> None:
        """Set an answer, keep it only if valid, save the draft, move on."""
        path = str(state.path)
        old = str(state.value or "")
        case = self.case
        is_case = case is not None and case.mode is not None and path == case.path and value != ""
        if is_case and case is not None:
            verdict = case.check(value, lang=self._lang)
            if not verdict.accepted:
                for line in verdict.lines:
                    self._warn(line)
                return
            value = verdict.code
            for line in verdict.lines:
                self._inform(line)
        self._cached_steps = None
        self._cached_order = None
        try:
            if value == "":
                self.session.clear(path)
            else:
                self.session.set(path, value)
        except AnswerError as exc:  # the engine's own check
            self._warn(_plain_engine_message(str(exc)))
            return
        after = self.session.node(path)
        problem = problem_message(after, self._lang)
        if problem:
            # Restore the previous answer: the draft never holds an answer the form refuses.
            if old == "":
                self.session.clear(path)
            else:
                self.session.set(path, old)
            self._cached_steps = None
            self._warn(problem)
            return
        self._touched = True
        self._save()
        if case is not None:
            note = case.agency_note(self.session, path, lang=self._lang)
            if note:
                self._inform(note)
        if is_case and self._case_first:
            # The case is known: its consent's answers are offered, then the form from the top.
            self._case_first = False
            self._confirmed.add(path)
            self._visited.add(path)
            self._offer_carried()
            self._pos = 0
            return
        self._advance(path)

    def _prepare_case(self, state: NodeState) -> None:
        """On the consent form, propose a new case code where none is typed yet."""
        case = self.case
        if case is None or state.path != case.path:
            return
        if case.mode == "consent" and not state.value:
            if state.path not in self._proposed:
                code = case.proposal()
                self._proposed[str(state.path)] = code
                self._inform(say("case_proposed", self._lang, code=code))
        elif self._case_first:
            self._inform(say("case_first", self._lang))

    def _offer_carried(self) -> None:
        """The case consent's answers this form asks again, confirmed in one go (issue 12)."""
        from rich.text import Text

        case = self.case
        carried = case.carried(self.session) if case is not None else []
        if not carried or case is None or case.consent is None:
            return
        lang = self._lang
        lines: list[RenderableType] = [
            "",
            Text(
                say("defaults_title", lang, code=case.consent.code, day=case.consent.day),
                style="bold",
            ),
        ]
        for item in carried:
            line = Text(f"  {item.label}: ")
            line.append(item.shown, style="bold")
            lines.append(line)
        lines.append(_dim(say("defaults_ask", lang)))
        self._show_notices()  # what the check of the code found comes first
        while True:
            self.terminal.show(*lines)
            self._show_notices()
            answer = self.terminal.ask("> ").strip()
            lowered = answer.lower()
            if lowered in {":q", ":quit", "!!"}:
                raise QuickExit
            if lowered == "" or lowered in _YES:
                for item in carried:
                    try:
                        self.session.set(item.path, item.value)
                    except AnswerError:
                        continue  # the form refuses it here: asked in order instead
                    if problem_message(self.session.node(item.path), lang):
                        self.session.clear(item.path)
                        continue
                    self._confirmed.add(item.path)
                    self._visited.add(item.path)
                self._cached_steps = None
                self._cached_order = None
                self._touched = True
                self._save()
                return
            if lowered in _NO:
                self._proposed.update({item.path: item.value for item in carried})
                return
            self._warn(say("answer_yn", lang))

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
        try:
            command = parse_command(text, lang=lang)
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if command is not None:
            self._command(command, state=None, kind="")
            return
        answer = text.strip().lower()
        if answer in _YES:
            name = step.template.rsplit("/", 1)[1]
            try:
                self.session.add_repeat(f"{step.parent}/{name}")
            except AnswerError as exc:  # e.g. the engine's limit on instances
                self._warn(_plain_engine_message(str(exc)))
                self._pos += 1
                return
            self._cached_steps = None
            self._cached_order = None
            self._touched = True
            self._save()
            # The new instance's first question now sits where this prompt was.
        elif answer in _NO or answer == "":
            self._pos += 1
        else:
            self._warn(say("answer_yn", lang))

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
            # What was typed and revealed leaves the screen with the interview.
            self.terminal.clear()
            self.terminal.show(say("saved", self._lang, record=record_id))
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
            which: special_choice(list(state.choices), which) if kind in _SELECTS else None
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
        label = self._repeat_label(_POSITIONS.sub("", instance))
        self.terminal.show(say("remove_instance", self._lang, label=label))
        if self.terminal.ask("> ").strip().lower() not in _YES - {"1"}:
            return
        try:
            self.session.remove_repeat(instance)
            self._cached_steps = None
            self._cached_order = None
        except AnswerError as exc:
            self._warn(_plain_engine_message(str(exc)))
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

    # ----------------------------------------------------------------- review
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
            self.terminal.show(_dim(say("review_keys", lang)))
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
        self.terminal.show(say("finalized", self._lang, record=record_id))
        case = self.case
        if case is not None and case.mode == "consent" and case.path is not None:
            code = self.session.node(case.path).value
            if code:  # the one thing the worker must still copy: onto the person's card
                self.terminal.show(say("finalized_case", self._lang, code=code))
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
            if value != "" and value != (self._default(step.path) or ""):
                last = index
        return last + 1

    def _default(self, path: str) -> str | None:
        """The question's static default (there from the start: not an answer given)."""
        node = self._templates.get(_POSITIONS.sub("", path))
        return node.default if node is not None else None

    def _steps(self) -> list[Step]:
        if self._cached_steps is None:
            self._cached_steps = build_steps(self.form, self.session)
        return self._cached_steps

    def _progress(self, path: str) -> tuple[int, int]:
        """(questions answered so far, at most how many may still come after ``path``).

        The bound counts every question after this one in the form, whatever its relevance
        now (an answer may still show it), once per repeat entry that exists.
        """
        if self._cached_order is None:
            order: dict[str, int] = {}
            for leaf in self.session.answers():
                node = self._templates.get(_POSITIONS.sub("", leaf))
                if node is not None and node.kind == "question" and node.readonly is None:
                    order[leaf] = len(order)
            self._cached_order = order
        order = self._cached_order
        at = order.get(path)
        values = self.session.answers()
        # Answers confirmed from the case's consent are passed over: they do not come again.
        left = sum(
            1
            for leaf, i in order.items()
            if at is not None and i > at and leaf not in self._confirmed
        )
        # Answered: passed with a value (a default kept with Enter counts; one not reached yet
        # does not).
        answered = sum(
            1
            for step in self._steps()
            if isinstance(step, Question)
            and step.path in order
            and step.path in self._visited
            and values.get(step.path)
        )
        return answered, left

    @property
    def _lang(self) -> str | None:
        return self.session.lang

    def _warn(self, message: str) -> None:
        from rich.text import Text

        self._notices.append(Text(f"! {inert(message)}", style="yellow"))

    def _inform(self, message: str) -> None:
        from rich.text import Text

        self._notices.append(Text(inert(message), style="cyan"))

    def _take_notices(self) -> list[RenderableType]:
        notices, self._notices = self._notices, []
        return notices

    def _show_notices(self) -> None:
        notices = self._take_notices()
        if notices:
            self.terminal.show(*notices)

    def _view_for(self, state: NodeState) -> ChoiceView:
        """The list view of this question, kept while it is being asked."""
        names = tuple(c.name for c in state.choices)
        key = (str(state.path), self._lang, names)
        if self._view is None or self._view[0] != key:
            self._view = (key, ChoiceView(names, choice_labels(state.choices, self._lang)))
        return self._view[1]

    def _repeat_label(self, template: str) -> str:
        node = self._templates.get(template)
        label = str(node.label(self._lang) or "") if node is not None else ""
        label = " ".join(plain_label(label).split())
        return label or template.rsplit("/", 1)[1].replace("_", " ")

    def _section(self, path: str) -> str:
        """The label of the innermost labelled group or repeat around a question."""
        node = self._templates.get(_POSITIONS.sub("", path))
        parent = node.parent if node is not None else None
        while parent is not None and parent.parent is not None:
            label = str(parent.label(self._lang) or "")
            if label:
                return " ".join(plain_label(label).split())
            parent = parent.parent
        return ""

    def _block(self, state: NodeState, *, step: Question, kind: str) -> list[RenderableType]:
        """The question's heading and text (its list is added by the caller)."""
        from rich.text import Text

        lang = self._lang
        path = str(state.path)
        head = Text(say("question", lang, number=step.number), style="dim")
        if kind != "note":
            answered, left = self._progress(path)
            key = "progress" if left else "progress_last"
            head.append(f" · {say(key, lang, answered=answered, left=left)}", style="dim")
        section = self._section(path)
        if section:
            head.append(" · ", style="dim")
            head.append(section, style="bold")
        if kind != "note" and state.required:
            head.append(f" · {say('required', lang)}", style="dim")
        if kind in _SELECTS:
            for which, short in (("dont_know", "dk"), ("prefer_not", "pn")):
                if special_choice(list(state.choices), which):
                    head.append(f" · {say('offers_' + short, lang)}", style="dim")
        head.append(" · :help", style="dim")
        emergency = kind == "note" and state.name in self.emergency
        text = question_text(state, emergency=emergency)
        if emergency:
            return ["", head, emergency_block(text[0], self.contacts, lang=lang), *text[1:]]
        return ["", head, *text]

    def _prompt(self, state: NodeState, kind: str) -> str:
        lang = self._lang
        if kind in _MEDIA:
            self._warn(say("media", lang, kind=kind))
            self._show_notices()
            return say("enter_continue", lang)
        if kind == "note" or state.readonly:
            return say("enter_continue", lang)
        current = str(state.value or "")
        proposed = self._proposed.get(str(state.path), "") if not current else ""
        shown = ""
        if current or proposed:
            if state.sensitive and not self.show_sensitive and current:
                shown = say("answered_hidden", lang)
            else:
                shown = display_value(state, current or proposed, lang)
        hint = say(f"hint_{kind}", lang) if f"hint_{kind}" in _HINTED else ""
        params = state.parameters
        if kind == "range" and "start" in params and "end" in params:
            hint = say("hint_range", lang, start=inert(params["start"]), end=inert(params["end"]))
        parts = [p for p in (hint, f"[{shown}]" if shown else "") if p]
        return (" ".join(parts) + " > ") if parts else "> "


# Types a terminal cannot capture (ODK Collect uses the camera, microphone or file picker).
_MEDIA = frozenset({"image", "audio", "video", "file", "background-audio", "background_audio"})
_HINTED = frozenset(
    f"hint_{kind}"
    for kind in (
        "select_one",
        "select_multiple",
        "rank",
        "integer",
        "decimal",
        "date",
        "time",
        "datetime",
        "geopoint",
        "acknowledge",
    )
)


def _row(position: int, label: str) -> Text:
    from rich.text import Text

    return Text(f"  {position:>2}. {label}")


def _dim(text: str) -> Text:
    from rich.text import Text

    return Text(text, style="dim")


def _plain_engine_message(message: str) -> str:
    """The engine's message without the field's internal name (``'age': not a number``)."""
    return re.sub(r"^'[^']*':\s*", "", inert(message))


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
