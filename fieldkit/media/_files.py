"""Attachments read back out of the workspace: found by record and question, written as one
plaintext copy where a person asks (``records open``, ``export --include-media``)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from fieldkit.errors import AnswerError, UsageError

if TYPE_CHECKING:
    from fieldkit.store import Record, Workspace
    from fieldkit.store.attachments import Attachment

__all__ = ["attachment_of", "attachments_of", "write_copy"]


def attachments_of(ws: Workspace, record: Record) -> list[tuple[str, Attachment]]:
    """(question path, attachment) for every answer of ``record`` that names a file here or
    one that has not arrived yet."""
    found = []
    for path, value in record.answers.items():
        if value:
            attachment = ws.attachments.named(value)
            if attachment is not None:
                found.append((path, attachment))
    return found


def attachment_of(ws: Workspace, record: Record, question: str) -> Attachment:
    """The file a record's answer to ``question`` (a name or a path) names."""
    matches = [
        (path, a)
        for path, a in attachments_of(ws, record)
        if path == question or path.rsplit("/", 1)[-1] == question
    ]
    if not matches:
        raise UsageError(f"record {record.id} has no file for question {question!r}")
    if len(matches) > 1:
        raise UsageError(f"{question!r} names several answers of this record: give its path")
    attachment = matches[0][1]
    if not attachment.complete:
        raise AnswerError("that file has not arrived yet: pull again later")
    return attachment


def write_copy(ws: Workspace, attachment: Attachment, out: Path, *, overwrite: bool) -> Path:
    """Write the decrypted file to ``out`` (0600; a folder gets the attachment's own name).
    It is complete or absent: written beside it under a temporary name, then renamed."""
    target = out / attachment.name if out.is_dir() else out
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists: choose another path or pass --force")
    temp = target.parent / f".{secrets.token_hex(6)}.part"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        raise UsageError(f"no folder {target.parent}") from None
    except OSError as exc:
        raise UsageError(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in ws.attachments.chunks(attachment.id):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    return target
