"""Start, resume or edit an interview in a workspace, or fill one from an answers file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fieldkit.capture._answers_file import fill_session
from fieldkit.capture._consent import check_consent_for_answers, check_consent_to_start
from fieldkit.capture._interview import Interview, Outcome, _match_language
from fieldkit.capture._records import DraftRecorder
from fieldkit.capture._terminal import Terminal
from fieldkit.errors import FormNotFound, RecordError, UsageError

if TYPE_CHECKING:
    from fieldkit.forms import Form, FormSession
    from fieldkit.store import FormVersion, Record, Workspace

__all__ = ["capture_answers", "edit_record", "resume_interview", "start_interview"]


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


def _interview(
    ws: Workspace,
    *,
    form: Form,
    session: FormSession,
    recorder: DraftRecorder,
    terminal: Terminal,
) -> Interview:
    return Interview(
        form=form,
        session=session,
        terminal=terminal,
        recorder=recorder,
        # The submission, not the raw answers: a legal basis left behind by a later change
        # (no longer relevant) must not stand in for consent.
        check_finalize=lambda s: check_consent_for_answers(ws, form, s.submission()),
    )


def start_interview(
    ws: Workspace, form_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """A new interview of the latest version of ``form_id``; the draft appears at the first
    answer. Refuses a consent-gated form while no consent is on file."""
    version = _latest(ws, form_id)
    form = version.form()
    notice = check_consent_to_start(ws, form)
    session = _session(form, answers=None, lang=lang)
    recorder = DraftRecorder(ws, form_id=version.form_id, form_version=version.version)
    _greet(terminal, form, session, notice=notice)
    return _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal).run()


def resume_interview(
    ws: Workspace, record_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """Continue a draft where it stopped (after its last answered question)."""
    record = ws.records.get(record_id)
    if record.status != "draft":
        raise RecordError(
            f"record {record_id} is {record.status}: `fieldkit records edit {record_id}` "
            "makes a new version"
        )
    version = ws.forms.get(record.form_id, version=record.form_version)
    form = version.form()
    notice = check_consent_to_start(ws, form)
    session = _session(form, answers=record.answers, lang=lang)
    recorder = DraftRecorder(
        ws, form_id=record.form_id, form_version=record.form_version, record_id=record.id
    )
    _greet(terminal, form, session, record_id=record.id, notice=notice)
    interview = _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal)
    return interview.run(resume=True)


def edit_record(
    ws: Workspace, record_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """Reopen a finalized record as a new draft that replaces it, starting at the review.

    An unfinished edit of the same record is reopened rather than started twice; a record
    that a finalized edit already replaced is refused (edit the newer version instead).
    """
    original = ws.records.get(record_id)
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
    return interview.run(start_at_review=True)


def capture_answers(
    ws: Workspace,
    form_id: str,
    *,
    data: Mapping[str, Any],
    source: str,
    lang: str | None = None,
) -> Record:
    """Fill, validate and finalize one record from ``data`` (an answers file) in one
    transaction: either a finalized record is returned, or an error names every problem and
    nothing is saved."""
    version = _latest(ws, form_id)
    form = version.form()
    check_consent_to_start(ws, form)
    session = _session(form, answers=None, lang=lang)
    fill_session(form, session, data, source=source)
    check_consent_for_answers(ws, form, session.submission())
    with ws.records.batch():
        draft = ws.records.create_draft(
            form_id=version.form_id, form_version=version.version, answers=session.answers()
        )
        return ws.records.finalize(draft.id, answers=session.submission())


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
) -> None:
    from rich.markup import escape

    title = form.title or form.id
    line = f"[bold]{escape(title)}[/bold]  [dim]form {escape(str(form.id))}"
    if replaces:
        line += f" · new version of {replaces}"
    elif record_id:
        line += f" · draft {record_id}"
    line += " · :help for commands · :q or Ctrl-C to leave at once[/dim]"
    terminal.show(line)
    if len(form.languages) > 1:
        current = session.lang or form.default_language or form.languages[0]
        others = ", ".join(lang for lang in form.languages if lang != current)
        terminal.show(f"[dim]Language: {escape(current)} (also {escape(others)}: :lang CODE)[/dim]")
    if notice:
        # Calm, not an alarm: starting without consent is allowed here (DOMAIN §3).
        terminal.show(f"[yellow]{escape(notice)}[/yellow]")
