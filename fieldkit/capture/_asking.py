"""One question of the interview: how it is shown, and what typing at it does.

Every question block is sized to the screen (heading, question, list page, notices, prompt);
what was typed becomes a command, a page turn, a filter or an answer. An answer is checked by
the form before it is kept, and a case code by the person's consent (``_case.CaseGate``).
``Interview`` (``_interview.py``) builds on this with the flow: order, review, finalize.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

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
from fieldkit.capture._navigation import Question, Step
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
)
from fieldkit.capture._terminal import QuickExit, Terminal
from fieldkit.capture._words import say
from fieldkit.errors import AnswerError
from fieldkit.text import inert

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from fieldkit.capture._case import CaseGate
    from fieldkit.capture._contacts import Contact
    from fieldkit.capture._interview import Recorder
    from fieldkit.forms import Form, FormSession, Node, NodeState

__all__ = [
    "NO",
    "POSITIONS",
    "SELECTS",
    "YES",
    "QuestionAsking",
    "dim",
    "line",
    "plain_engine_message",
]

POSITIONS = re.compile(r"\[\d+\]")
SELECTS = frozenset({"select_one", "select_multiple", "rank"})
# Appearances that ask for a searchable list in ODK (a dropdown, a search box).
_FILTER_APPEARANCES = ("minimal", "autocomplete", "search")
# What can be typed at a list without filtering it: positions, =names, commands, paging.
_ENTRY = re.compile(r"^(?:[\d\s,;]+|[:=].*|!!|[<>*])$")
YES = {"y", "yes", "o", "oui", "1"}
NO = {"n", "no", "non", "0"}


class QuestionAsking:
    """Asking one question: the part of ``Interview`` that shows it and reads the answer."""

    # Set by Interview.__init__.
    form: Form
    session: FormSession
    terminal: Terminal
    recorder: Recorder
    case: CaseGate | None
    contacts: list[Contact]
    emergency: frozenset[str]
    show_sensitive: bool
    _templates: dict[str, Node]
    _pos: int
    _touched: bool
    _visited: set[str]
    _notices: list[RenderableType]
    _proposed: dict[str, str]
    _confirmed: set[str]
    _case_first: bool
    _view: tuple[tuple[str, str | None, tuple[str, ...]], ChoiceView] | None
    _expanded: set[str]
    _cached_steps: list[Step] | None
    _cached_order: dict[str, int] | None

    # What the interview's flow provides.
    def _command(self, command: Command, *, state: NodeState | None, kind: str) -> None:
        raise NotImplementedError

    def _advance(self, path: str) -> None:
        raise NotImplementedError

    def _save(self, *, force: bool = False) -> str | None:
        raise NotImplementedError

    def _steps(self) -> list[Step]:
        raise NotImplementedError

    def _ask_question(self, step: Question) -> None:
        state = self.session.node(step.path)
        kind = question_kind(str(state.type))
        lang = self._lang
        self._prepare_case(state)
        above = self._block(state, step=step, kind=kind)
        above.extend(self._form_media_lines(state))
        if kind in FILE_KINDS:
            self._ask_file(state, kind=kind, above=above)
            return
        if kind in SELECTS and state.choices:
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

    def _ask_file(self, state: NodeState, *, kind: str, above: list[RenderableType]) -> None:
        """An image, audio, video or file question: a path, checked and copied in (issue 17)."""
        lang = self._lang
        path = str(state.path)
        current = str(state.value or "")
        self.terminal.show(*above)
        if current:
            self.terminal.show(dim(say("file_answered", lang, name=current)))
        self._show_notices()
        ask = getattr(self.terminal, "ask_path", self.terminal.ask)
        text = ask(say("file_prompt", lang, kind=say(f"kind_{kind}", lang)))
        if self._took_command(text, state=state, kind=kind):
            return
        typed = text.strip()
        if typed == "":
            self._advance(path)  # Enter keeps the file taken (or leaves it empty)
            return
        node = self._templates.get(POSITIONS.sub("", path))
        if node is None:
            return
        self._save(force=True)  # the draft owns the copy: it must exist first
        try:
            taken = self.recorder.take_file(
                form=self.form, node=node, path_text=typed, question=path
            )
        except AnswerError as exc:
            self._warn(str(exc))
            return
        size = _size_text(taken.attachment.size)
        if taken.stripped:
            self._inform(say("file_stripped", lang, size=size))
        elif kind == "image":
            self._inform(say("file_kept_metadata", lang, size=size))
        else:
            self._inform(say("file_copied", lang, size=size))
        self._offer_delete(typed)
        self._set(state, taken.attachment.name)

    def _offer_delete(self, typed: str) -> None:
        """Offer to delete the original: the laptop may be seized (issue 17)."""
        from pathlib import Path

        from fieldkit.media import delete_original

        lang = self._lang
        folder = Path(typed).expanduser().resolve().parent.name or "/"
        self._show_notices()
        answer = self.terminal.ask(say("file_delete", lang, folder=inert(folder))).strip().lower()
        if answer in {":q", ":quit", "!!"}:
            raise QuickExit
        if answer in YES:
            try:
                delete_original(typed)
            except AnswerError as exc:
                self._warn(str(exc))
                return
            self._inform(say("file_deleted", lang))
        else:
            self._inform(say("file_left", lang))

    def _form_media_lines(self, state: NodeState) -> list[RenderableType]:
        """The form's own pictures and sounds in this label, announced (`media::image`)."""
        node = self._templates.get(POSITIONS.sub("", str(state.path)))
        if node is None or not node.media:
            return []
        lines: list[RenderableType] = []
        for what, value in sorted(node.media.items()):
            if isinstance(value, dict):
                value = value.get(self._lang or "") or next(iter(value.values()), "")
            if what not in {"image", "big-image", "audio", "video"} or not value:
                continue
            lines.append(
                dim(
                    say(
                        "form_media",
                        self._lang,
                        what=say(f"media_{what.replace('-', '_')}", self._lang),
                        form=self.form.id,
                        file=inert(str(value)),
                    )
                )
            )
        return lines

    def _took_command(self, text: str, *, state: NodeState | None, kind: str) -> bool:
        """Run ``text`` if it is a command (an unknown one is warned about): True when it was."""
        try:
            command = parse_command(text, lang=self._lang)
        except AnswerError as exc:
            self._warn(str(exc))
            return True
        if command is None:
            return False
        self._command(command, state=state, kind=kind)
        return True

    def _handle(self, text: str, *, state: NodeState, kind: str, view: ChoiceView | None) -> None:
        """What was typed at a question: a command, Enter, or an answer."""
        lang = self._lang
        path = str(state.path)
        if self._took_command(text, state=state, kind=kind):
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
                # Not a choice: a filter (the list's status line says when nothing matches).
                view.set_filter(text)
                self._expanded.add(path)
                return
            self._warn(str(exc))
            return
        except AnswerError as exc:
            self._warn(str(exc))
            return
        if view is not None and value:
            labels = dict(zip(view.names, view.labels, strict=True))
            picked = ", ".join(labels.get(name, name) for name in value.split())
            self.terminal.show(dim(say("picked", lang, label=picked)))
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
            self._warn(plain_engine_message(str(exc)))
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
        lines.append(dim(say("defaults_ask", lang)))
        self._show_notices()  # what the check of the code found comes first
        while True:
            self.terminal.show(*lines)
            self._show_notices()
            answer = self.terminal.ask("> ").strip()
            lowered = answer.lower()
            if lowered in {":q", ":quit", "!!"}:
                raise QuickExit
            if lowered == "" or lowered in YES:
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
            if lowered in NO:
                self._proposed.update({item.path: item.value for item in carried})
                return
            self._warn(say("answer_yn", lang))

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
        if kind in SELECTS:
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

    def _progress(self, path: str) -> tuple[int, int]:
        """(questions answered so far, at most how many may still come after ``path``).

        The bound counts every question after this one in the form, whatever its relevance
        now (an answer may still show it), once per repeat entry that exists.
        """
        if self._cached_order is None:
            order: dict[str, int] = {}
            for leaf in self.session.answers():
                node = self._templates.get(POSITIONS.sub("", leaf))
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

    def _default(self, path: str) -> str | None:
        """The question's static default (there from the start: not an answer given)."""
        node = self._templates.get(POSITIONS.sub("", path))
        return node.default if node is not None else None

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
        node = self._templates.get(POSITIONS.sub("", path))
        parent = node.parent if node is not None else None
        while parent is not None and parent.parent is not None:
            label = str(parent.label(self._lang) or "")
            if label:
                return " ".join(plain_label(label).split())
            parent = parent.parent
        return ""

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


# Types a terminal cannot capture (ODK Collect records them in the background).
_MEDIA = frozenset({"background-audio", "background_audio"})
# Types answered with a file the worker names (ODK Collect's camera, microphone, picker).
FILE_KINDS = frozenset({"image", "audio", "video", "file"})


def _size_text(n: int) -> str:
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB"


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


def line(text: str, *, style: str = "") -> Text:
    """One line of the interview as inert text: never read as rich markup (a repeat's label
    or a code from another device could hold ``[red]``)."""
    from rich.text import Text

    return Text(inert(text), style=style)


def dim(text: str) -> Text:
    from rich.text import Text

    return Text(text, style="dim")


def plain_engine_message(message: str) -> str:
    """The engine's message without the field's internal name (``'age': not a number``)."""
    return re.sub(r"^'[^']*':\s*", "", inert(message))
