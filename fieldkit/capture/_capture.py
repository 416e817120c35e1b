"""Start, resume or edit an interview in a workspace, or fill one from an answers file."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldkit.capture._answers_file import fill_session
from fieldkit.capture._case import CaseGate
from fieldkit.capture._case_code import is_case_code, new_case_code, normalize_case_code
from fieldkit.capture._consent import (
    CASE_QUESTION,
    CONSENT_FORM,
    CaseConsent,
    check_consent_for_answers,
    check_consent_to_start,
    consent_needs,
    consents_by_case,
)
from fieldkit.capture._contacts import emergency_contacts
from fieldkit.capture._drafts import choose_draft, find_record
from fieldkit.capture._interview import Interview, Outcome, _match_language
from fieldkit.capture._label import plain_label
from fieldkit.capture._records import DraftRecorder
from fieldkit.capture._terminal import Terminal
from fieldkit.capture._words import say
from fieldkit.errors import AnswerError, AttachmentError, FormNotFound, RecordError, UsageError
from fieldkit.media import delete_original, is_file_question, take_file
from fieldkit.text import inert

if TYPE_CHECKING:
    from fieldkit.forms import Form, FormSession, Node
    from fieldkit.store import FormVersion, Record, Workspace

__all__ = [
    "capture_answers",
    "case_code_in",
    "case_code_of",
    "edit_record",
    "emergency_notes",
    "resume_interview",
    "start_interview",
]

_TRUE = {"yes", "true", "1", "y"}
_POSITIONS = re.compile(r"\[\d+\]")


def _session(form: Form, *, answers: Mapping[str, str] | None, lang: str | None) -> FormSession:
    from fieldkit.forms import FormSession

    language = _language(form, lang)
    return FormSession(form, answers=dict(answers) if answers else None, lang=language)


def _language(form: Form, lang: str | None) -> str | None:
    languages = list(form.languages)
    if lang is None:
        return form.default_language
    match = _match_language(lang, languages)
    if match is None:
        offered = ", ".join(languages) or "only its default language"
        raise UsageError(f"form {form.id} has no language {lang!r}; it offers {offered}")
    return match


def emergency_notes(form: Form) -> frozenset[str]:
    """Names of the notes the form marks as emergencies (survey column ``emergency`` = yes)."""

    def walk(elements: Any) -> Iterator[str]:
        for element in elements or ():
            if not isinstance(element, dict):
                continue
            if str(element.get("emergency", "")).strip().lower() in _TRUE:
                yield str(element.get("name", ""))
            yield from walk(element.get("children"))

    return frozenset(walk(form.definition.get("children")))


def _interview(
    ws: Workspace,
    *,
    form: Form,
    session: FormSession,
    recorder: DraftRecorder,
    terminal: Terminal,
    consents: dict[str, CaseConsent] | None = None,
) -> Interview:
    return Interview(
        form=form,
        session=session,
        terminal=terminal,
        recorder=recorder,
        # The submission, not the raw answers: a legal basis left behind by a later change
        # (no longer relevant) must not stand in for consent.
        check_finalize=lambda s: check_consent_for_answers(ws, form, s.submission()),
        case=CaseGate(ws, form, needs=consent_needs(form), consents=consents),
        contacts=emergency_contacts(ws),
        emergency=emergency_notes(form),
    )


def start_interview(
    ws: Workspace, form_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """A new interview of the latest version of ``form_id``; the draft appears at the first
    answer. A form that needs consent asks the case code first and checks its consent."""
    version = _latest(ws, form_id)
    form = version.form()
    # Read once: the start check and the case code's look-up share it.
    consents = consents_by_case(ws) if consent_needs(form) is not None else None
    check_consent_to_start(ws, form, consents=consents)  # a gate that cannot be read: no start
    session = _session(form, answers=None, lang=lang)
    recorder = DraftRecorder(ws, form_id=version.form_id, form_version=version.version)
    _greet(terminal, form, session)
    interview = _interview(
        ws, form=form, session=session, recorder=recorder, terminal=terminal, consents=consents
    )
    return interview.run()


def resume_interview(
    ws: Workspace,
    record_id: str | None,
    *,
    terminal: Terminal,
    lang: str | None = None,
    form_id: str | None = None,
) -> Outcome:
    """Continue a draft where it stopped (after its last answered question).

    ``record_id`` may be a unique prefix of the id; None lists this laptop's drafts (of
    ``form_id``, when given) to pick one by number.
    """
    if record_id is None:
        picked = choose_draft(ws, terminal=terminal, form_id=form_id, lang=lang)
        if picked is None:
            return Outcome("cancelled", None)
        record = ws.records.get(picked)
    else:
        record = find_record(ws, record_id)
    if form_id is not None and record.form_id != form_id:
        raise UsageError(f"record {record.id} is not a {form_id} record")
    if record.status != "draft":
        raise RecordError(
            f"record {record.id} is {record.status}: `fieldkit records edit {record.id}` "
            "makes a new version"
        )
    version = ws.forms.get(record.form_id, version=record.form_version)
    form = version.form()
    code = _leaf(record.answers, CASE_QUESTION)
    notice = check_consent_to_start(ws, form, code=code or None)
    session = _session(form, answers=record.answers, lang=lang)
    recorder = DraftRecorder(
        ws, form_id=record.form_id, form_version=record.form_version, record_id=record.id
    )
    latest = ws.forms.get(record.form_id)
    older = latest.version if latest.version != record.form_version else None
    _greet(terminal, form, session, record_id=record.id, notice=notice, newer_version=older)
    interview = _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal)
    if code and interview.case is not None and interview.case.mode == "gated":
        interview.case.check(code, lang=session.lang)  # the case's consent, for the agency check
    return interview.run(resume=True)


def edit_record(
    ws: Workspace, record_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """Reopen a finalized record as a new draft that replaces it, starting at the review.

    An unfinished edit of the same record is reopened rather than started twice; a record
    that a finalized edit already replaced is refused (edit the newer version instead).
    """
    original = find_record(ws, record_id)  # the whole id, or a prefix only it has
    record_id = original.id
    newer = [r for r in ws.records.list(form_id=original.form_id) if r.replaces == record_id]
    done = [r for r in newer if r.status != "draft"]
    if done:
        raise RecordError(
            f"record {record_id} was replaced by {done[-1].id}: edit that version instead"
        )
    draft = newer[-1] if newer else ws.records.replace(record_id)
    version = ws.forms.get(draft.form_id, version=draft.form_version)
    form = version.form()
    session = _session(form, answers=draft.answers, lang=lang)
    recorder = DraftRecorder(
        ws, form_id=draft.form_id, form_version=draft.form_version, record_id=draft.id
    )
    _greet(terminal, form, session, record_id=draft.id, replaces=record_id)
    interview = _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal)
    code = _leaf(draft.answers, CASE_QUESTION)
    if code and interview.case is not None and interview.case.mode == "gated":
        interview.case.check(code, lang=session.lang)
    return interview.run(start_at_review=True)


def capture_answers(
    ws: Workspace,
    form_id: str,
    *,
    data: Mapping[str, Any],
    source: str,
    lang: str | None = None,
    base: Path | None = None,
    delete_originals: bool = False,
) -> Record:
    """Fill, validate and finalize one record from ``data`` (an answers file) in one
    transaction: either a finalized record is returned, or an error names every problem and
    nothing is saved. On the consent form a case code left out is made by fieldkit
    (``case_code_of`` reads it back); one given must be a code fieldkit made. An image, audio,
    video or file answer is a path (relative ones from ``base``): the file is checked and
    copied into the workspace and the answer names the copy (``delete_originals``: the files
    are deleted once the record is saved)."""
    version = _latest(ws, form_id)
    form = version.form()
    session = _session(form, answers=None, lang=lang)
    fill_session(
        form,
        session,
        data,
        source=source,
        then=lambda filled: _case_code_for_answers(ws, form, filled, source=source),
    )
    submission = session.submission()
    check_consent_to_start(ws, form, code=_leaf(submission, CASE_QUESTION) or None)
    check_consent_for_answers(ws, form, submission)
    files = _file_answers(form, session)
    originals: list[str] = []
    with ws.records.batch():
        draft = ws.records.create_draft(
            form_id=version.form_id, form_version=version.version, answers=session.answers()
        )
        for path, node in files:
            text = str(session.node(path).value or "")
            full = Path(text).expanduser()
            if base is not None and not full.is_absolute():
                full = base / full
            try:
                taken = take_file(
                    ws, form=form, node=node, path_text=str(full), record_id=draft.id, question=path
                )
            except AttachmentError as exc:
                raise AttachmentError(f"{source}: nothing saved; {node.name}: {exc}") from None
            session.set(path, taken.attachment.name)
            originals.append(str(full))
        record = ws.records.finalize(draft.id, answers=session.submission())
    if delete_originals:
        for original in originals:
            delete_original(original)
    return record


def _file_answers(form: Form, session: FormSession) -> list[tuple[str, Node]]:
    """(instance path, question) of every relevant file question with an answer."""
    found = []
    for path, value in session.submission().items():
        if not value:
            continue
        node = form.find(_POSITIONS.sub("", path))
        if node is not None and is_file_question(node):
            found.append((path, node))
    return found


def _case_code_for_answers(ws: Workspace, form: Form, session: FormSession, *, source: str) -> None:
    """The consent form's case code: made when left out, checked when given."""
    if form.id != CONSENT_FORM:
        return
    nodes = [n for n in form.named(CASE_QUESTION) if n.repeat is None and n.kind == "question"]
    if not nodes:
        return
    state = session.node(nodes[0].path)
    if not state.relevant:
        return
    consents = consents_by_case(ws)
    if not state.value:
        session.set(state.path, new_case_code(ws, taken=consents))
        return
    code = normalize_case_code(str(state.value))
    if code not in consents and not is_case_code(code):
        raise AnswerError(
            f"{source}: nothing saved; invalid: {CASE_QUESTION} (not a case code made by "
            "fieldkit: leave it out and fieldkit makes one)"
        )
    if code != state.value:
        session.set(state.path, code)


def case_code_of(record: Record) -> str | None:
    """The case code a record names (its ``client_pseudonym``), if any."""
    return case_code_in(record.answers)


# A case event (fieldkit.cases) names its case here rather than in a client_pseudonym.
_EVENT_CASE_PATH = "/fieldkit_case_event/case"


def case_code_in(answers: Mapping[str, str]) -> str | None:
    """The case code a record's answers name: a form's ``client_pseudonym``, or the case a case
    event is about (so erasure, withdrawal and assignment reach a case's events too)."""
    return _leaf(answers, CASE_QUESTION) or answers.get(_EVENT_CASE_PATH) or None


def _leaf(answers: Mapping[str, str], name: str) -> str:
    for path, value in answers.items():
        if path.rsplit("/", 1)[-1] == name and value:
            return value
    return ""


def _latest(ws: Workspace, form_id: str) -> FormVersion:
    """The latest version of a form, or an error that says how to add it."""
    try:
        return ws.forms.get(form_id)
    except FormNotFound:
        raise FormNotFound(
            f"form {form_id} is not in this workspace: add it with `fieldkit forms add "
            f"{form_id}` (a bundled form) or `fieldkit forms add FILE`"
        ) from None


def _greet(
    terminal: Terminal,
    form: Form,
    session: FormSession,
    *,
    record_id: str | None = None,
    replaces: str | None = None,
    notice: str | None = None,
    newer_version: str | None = None,
) -> None:
    from rich.text import Text

    lang = session.lang
    title = " ".join(plain_label(form.title or form.id).split())
    line = Text(title, style="bold")
    details = [say("greet", lang, form=plain_label(str(form.id)))]
    if replaces:
        details.append(say("greet_edit", lang, record=replaces))
    elif record_id:
        details.append(say("greet_draft", lang, record=record_id))
    details.append(say("greet_keys", lang))
    line.append("  " + " · ".join(details), style="dim")
    terminal.show(line)
    if len(form.languages) > 1:
        current = session.lang or form.default_language or form.languages[0]
        others = ", ".join(x for x in form.languages if x != current)
        shown = say("language_intro", lang, language=current, others=others)
        terminal.show(Text(plain_label(shown), style="dim"))
    if newer_version:
        terminal.show(
            Text(
                say(
                    "older_version",
                    lang,
                    old=plain_label(str(form.version)),
                    new=plain_label(newer_version),
                ),
                style="yellow",
            )
        )
    if notice:
        # Calm, not an alarm: going on without consent is allowed here (DOMAIN §3).
        terminal.show(Text(inert(notice), style="yellow"))
