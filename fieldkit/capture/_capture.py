"""Start, resume or edit an interview in a workspace, or fill one from an answers file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fieldkit.capture._answers_file import fill_session
from fieldkit.capture._consent import check_consent_for_answers, check_consent_to_start
from fieldkit.capture._interview import Interview, Outcome, _match_language
from fieldkit.capture._records import DraftRecorder
from fieldkit.capture._terminal import Terminal
from fieldkit.errors import RecordError, UsageError

__all__ = ["capture_answers", "edit_record", "resume_interview", "start_interview"]


def _session(form: Any, *, answers: Mapping[str, str] | None, lang: str | None) -> Any:
    from fieldkit.forms import FormSession

    language = _language(form, lang)
    return FormSession(form, answers=dict(answers) if answers else None, lang=language)


def _language(form: Any, lang: str | None) -> str | None:
    languages = [str(x) for x in (getattr(form, "languages", None) or [])]
    if lang is None:
        return getattr(form, "default_language", None) or None
    match = _match_language(lang, languages)
    if match is None:
        offered = ", ".join(languages) or "only its default language"
        raise UsageError(f"form {form.id} has no language {lang!r}; it offers {offered}")
    return match


def _interview(
    ws: Any, *, form: Any, session: Any, recorder: DraftRecorder, terminal: Terminal
) -> Interview:
    return Interview(
        form=form,
        session=session,
        terminal=terminal,
        recorder=recorder,
        check_finalize=lambda s: check_consent_for_answers(ws, form, s.answers()),
    )


def start_interview(
    ws: Any, form_id: str, *, terminal: Terminal, lang: str | None = None
) -> Outcome:
    """A new interview of the latest version of ``form_id``; the draft appears at the first
    answer. Refuses a consent-gated form while no consent is on file."""
    version = ws.forms.get(form_id)
    form = version.form()
    check_consent_to_start(ws, form)
    session = _session(form, answers=None, lang=lang)
    recorder = DraftRecorder(ws, form_id=version.form_id, form_version=version.version)
    _greet(terminal, form, session)
    return _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal).run()


def resume_interview(
    ws: Any, record_id: str, *, terminal: Terminal, lang: str | None = None
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
    check_consent_to_start(ws, form)
    session = _session(form, answers=record.answers, lang=lang)
    recorder = DraftRecorder(
        ws, form_id=record.form_id, form_version=record.form_version, record_id=record.id
    )
    _greet(terminal, form, session, record_id=record.id)
    interview = _interview(ws, form=form, session=session, recorder=recorder, terminal=terminal)
    return interview.run(resume=True)


def edit_record(ws: Any, record_id: str, *, terminal: Terminal, lang: str | None = None) -> Outcome:
    """Reopen a finalized record as a new draft that replaces it, starting at the review."""
    draft = ws.records.replace(record_id)
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
    ws: Any,
    form_id: str,
    *,
    data: Mapping[str, Any],
    source: str,
    lang: str | None = None,
) -> Any:
    """Fill, validate and finalize one record from ``data`` (an answers file) in one
    transaction: either a finalized record is returned, or an error names every problem and
    nothing is saved."""
    version = ws.forms.get(form_id)
    form = version.form()
    check_consent_to_start(ws, form)
    session = _session(form, answers=None, lang=lang)
    fill_session(form, session, data, source=source)
    check_consent_for_answers(ws, form, session.answers())
    with ws.records.batch():
        draft = ws.records.create_draft(
            form_id=version.form_id, form_version=version.version, answers=session.answers()
        )
        return ws.records.finalize(draft.id, answers=session.submission())


def _greet(
    terminal: Terminal,
    form: Any,
    session: Any,
    *,
    record_id: str | None = None,
    replaces: str | None = None,
) -> None:
    from rich.markup import escape

    title = str(getattr(form, "title", "") or form.id)
    line = f"[bold]{escape(title)}[/bold]  [dim]form {escape(str(form.id))}"
    if replaces:
        line += f" · new version of {replaces}"
    elif record_id:
        line += f" · draft {record_id}"
    line += " · :help for commands · :q or Ctrl-C to leave at once[/dim]"
    terminal.show(line)
