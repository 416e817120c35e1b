"""The interview's recorder over a workspace: one draft, saved after every answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldkit.forms import Form, Node
    from fieldkit.media import Taken
    from fieldkit.store import Workspace

__all__ = ["DraftRecorder"]


class DraftRecorder:
    """Keeps one record's draft in ``ws.records``; the draft is created at the first save."""

    def __init__(
        self,
        ws: Workspace,
        *,
        form_id: str,
        form_version: str,
        record_id: str | None = None,
        case_id: str | None = None,
    ) -> None:
        self._ws = ws
        self.form_id = form_id
        self.form_version = form_version
        self._record_id = record_id
        self._case_id = case_id

    @property
    def record_id(self) -> str | None:
        """The draft's id, once created."""
        return self._record_id

    def save(self, answers: dict[str, str]) -> str:
        """Save the answers durably (``save_answers`` commits before it returns)."""
        if self._record_id is None:
            record = self._ws.records.create_draft(
                form_id=self.form_id,
                form_version=self.form_version,
                case_id=self._case_id,
                answers=answers,
            )
            self._record_id = str(record.id)
        else:
            self._ws.records.save_answers(self._record_id, answers)
        return self._record_id

    def take_file(self, *, form: Form, node: Node, path_text: str, question: str) -> Taken:
        """Check and copy a file for a question of this draft (saved first: it owns the copy)."""
        from fieldkit.media import take_file

        return take_file(
            self._ws,
            form=form,
            node=node,
            path_text=path_text,
            record_id=self._record_id,
            question=question,
        )

    def finalize(self, submission: dict[str, str]) -> str:
        """Finalize the draft with the form's submission."""
        if self._record_id is None:
            # Finalized without a single answer typed (every question optional and skipped):
            # the draft and its finalizing are one transaction.
            with self._ws.records.batch():
                record = self._ws.records.create_draft(
                    form_id=self.form_id, form_version=self.form_version, case_id=self._case_id
                )
                self._ws.records.finalize(record.id, answers=submission)
            self._record_id = record.id
            return record.id
        self._ws.records.finalize(self._record_id, answers=submission)
        return self._record_id
