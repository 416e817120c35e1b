"""The one exception tree of fieldkit.

Every failure a user can cause is a ``FieldkitError``; the CLI prints its message as one line
``Error: …`` on stderr and exits with its ``exit_code``. Anything else escaping is a bug.

Messages never contain answer text, names or other personal data: they name files, forms,
questions (by name), rows and record ids only.

    FieldkitError (1)
    ├── UsageError (2)                bad flags or arguments
    ├── WorkspaceError (1)
    │   ├── WorkspaceMissing (1)      no workspace at the location
    │   │   └── WorkspaceWiped (1)    the workspace was wiped; its data cannot be recovered
    │   ├── WorkspaceExists (1)       init over an existing workspace
    │   ├── WorkspaceDamaged (1)      a key file or database that fails its integrity checks
    │   ├── WorkspaceLocked (1)       no passphrase available in a non-interactive run
    │   ├── WrongPassphrase (1)
    │   ├── WeakPassphrase (1)
    │   ├── StorageFull (1)           the disk refused a write; nothing half-written
    │   └── MigrationError (1)        a workspace from a newer fieldkit, or a failed upgrade
    ├── RecordError (1)
    │   ├── RecordNotFound (1)
    │   └── RecordImmutable (1)       a finalized record cannot change; edit makes a new version
    ├── FormError (1)                 an XLSForm that cannot be used; carries sheet/row/column
    │   ├── FormNotFound (1)
    │   └── ExpressionError (1)       an XPath expression that does not parse or refers to nothing
    ├── AnswerError (1)               an answer that does not fit its question
    │   └── AttachmentError (1)       a file that cannot be an answer (type, size, not a file)
    ├── ConsentRequired (1)           a form that needs a finalized consent record first
    ├── CryptoError (1)               a seal, signature or key that does not verify
    ├── SyncError (1)
    │   ├── ServerUnreachable (3)     offline: reported at once, with what is waiting
    │   ├── AuthError (4)             missing, wrong or revoked token; wrong role or project
    │   ├── ProtocolError (1)         a reply that does not follow the protocol
    │   └── NotEnrolled (1)
    ├── ServerError (1)               server-side configuration and storage failures
    ├── ExportError (1)
    └── CaseError (1)                 a case change that cannot be made (status order, conflict)
        └── CaseNotFound (1)          no case with that code on this laptop
"""

from __future__ import annotations

__all__ = [
    "AnswerError",
    "AttachmentError",
    "AuthError",
    "CaseError",
    "CaseNotFound",
    "ConsentRequired",
    "CryptoError",
    "ExportError",
    "ExpressionError",
    "FieldkitError",
    "FormError",
    "FormNotFound",
    "MigrationError",
    "NotEnrolled",
    "ProtocolError",
    "RecordError",
    "RecordImmutable",
    "RecordNotFound",
    "ServerError",
    "ServerUnreachable",
    "StorageFull",
    "SyncError",
    "UsageError",
    "WeakPassphrase",
    "WorkspaceDamaged",
    "WorkspaceError",
    "WorkspaceExists",
    "WorkspaceLocked",
    "WorkspaceMissing",
    "WorkspaceWiped",
    "WrongPassphrase",
]


class FieldkitError(Exception):
    """Base of every error a user can cause; ``str(err)`` is the one line shown."""

    exit_code: int = 1


class UsageError(FieldkitError):
    exit_code = 2


class WorkspaceError(FieldkitError):
    pass


class WorkspaceMissing(WorkspaceError):
    pass


class WorkspaceExists(WorkspaceError):
    pass


class WorkspaceDamaged(WorkspaceError):
    pass


class WorkspaceLocked(WorkspaceError):
    pass


class WrongPassphrase(WorkspaceError):
    def __init__(self, message: str = "wrong passphrase") -> None:
        super().__init__(message)


class WeakPassphrase(WorkspaceError):
    pass


class StorageFull(WorkspaceError):
    pass


class MigrationError(WorkspaceError):
    pass


class RecordError(FieldkitError):
    pass


class RecordNotFound(RecordError):
    pass


class RecordImmutable(RecordError):
    pass


class FormError(FieldkitError):
    """An XLSForm problem; ``sheet``, ``row`` and ``column`` locate it when known."""

    def __init__(
        self,
        message: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        problems: list[FormError] | None = None,
    ) -> None:
        self.message = message
        self.sheet = sheet
        self.row = row
        self.column = column
        self.problems = problems or []
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.sheet:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class FormNotFound(FormError):
    pass


class ExpressionError(FormError):
    """An expression problem; ``offset`` is the 1-based character column in the expression."""

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.offset = offset
        super().__init__(message, sheet=sheet, row=row, column=column)


class AnswerError(FieldkitError):
    pass


class AttachmentError(AnswerError):
    """A file given for an image, audio, video or file question that cannot be taken."""


class ConsentRequired(FieldkitError):
    pass


class CryptoError(FieldkitError):
    pass


class SyncError(FieldkitError):
    pass


class ServerUnreachable(SyncError):
    exit_code = 3


class AuthError(SyncError):
    exit_code = 4


class ProtocolError(SyncError):
    pass


class NotEnrolled(SyncError):
    pass


class ServerError(FieldkitError):
    pass


class ExportError(FieldkitError):
    pass


class WorkspaceWiped(WorkspaceMissing):
    pass


class CaseError(FieldkitError):
    """A case change that cannot be made: a status out of order, a field in conflict."""


class CaseNotFound(CaseError):
    """No case with that code on this laptop."""
