"""Taking a file as an answer: checked, stripped, copied into the encrypted workspace.

Issue 17, DESIGN §6a. The path a worker types is used once, to read the file, and never
stored: the answer holds the attachment's random name. The file's type is read from its bytes
and must fit the question; its size must fit the question's or the form's limit. Images lose
their identifying metadata unless the form says, in so many words, to keep it. Error messages
never repeat the path (a folder or file name can hold a person's name).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fieldkit.errors import AttachmentError
from fieldkit.media._strip import strip_image
from fieldkit.media._types import KINDS, accepted, sniff

if TYPE_CHECKING:
    from fieldkit.forms import Form, Node
    from fieldkit.store import Workspace
    from fieldkit.store.attachments import Attachment

__all__ = [
    "DEFAULT_LIMITS_MB",
    "Taken",
    "delete_original",
    "file_limit",
    "is_file_question",
    "keeps_metadata",
    "take_file",
]

# Rows of 1 MiB in the workspace (fieldkit.crypto.attachment.CHUNK_SIZE, not imported here:
# cryptography is a heavy import and capture's first question must appear at once).
CHUNK_SIZE = 1024 * 1024
# Sensible defaults (MB) for a laptop in the field; a form sets its own with the settings
# column `max_file_size`, a question with the survey column of the same name.
DEFAULT_LIMITS_MB = {"image": 25, "audio": 100, "video": 500, "file": 50}
_TRUE = {"yes", "true", "1", "true()"}
_KIND_WORDS = {"image": "a photo", "audio": "a recording", "video": "a video", "file": "a file"}
_FAMILY = {
    "image": "JPEG, PNG or WebP",
    "audio": "a sound recording",
    "video": "a video",
}


@dataclass(frozen=True)
class Taken:
    """What ``take_file`` stored, and what the interview says about it."""

    attachment: Attachment
    stripped: bool  # identifying metadata was removed


def is_file_question(node: Node) -> bool:
    """True for the question types whose answer is a file."""
    return node.type in KINDS


def file_limit(form: Form, node: Node) -> int:
    """The most bytes a file for ``node`` may have: the question's, the form's, or the default."""
    for text, where in (
        (node.max_file_size, f"question {node.name}"),
        (str(form.settings.get("max_file_size") or "").strip(), "the settings sheet"),
    ):
        if text:
            try:
                megabytes = float(text)
            except ValueError:
                megabytes = -1
            if not 0 < megabytes <= 100_000:
                raise AttachmentError(f"max_file_size of {where} is not a size in MB")
            return int(megabytes * 1024 * 1024)
    return DEFAULT_LIMITS_MB.get(node.type, 50) * 1024 * 1024


def keeps_metadata(form: Form, node: Node) -> bool:
    """True only where the form declares it: `keep_metadata` = yes on the question, or
    `keep_image_metadata` = yes in the settings."""
    setting = str(form.settings.get("keep_image_metadata") or "").strip().lower()
    return node.keep_metadata or setting in _TRUE


def take_file(
    ws: Workspace,
    *,
    form: Form,
    node: Node,
    path_text: str,
    record_id: str | None,
    question: str,
    chunk_size: int = CHUNK_SIZE,
) -> Taken:
    """Check the file at ``path_text`` for ``node`` and copy it into the workspace."""
    kind = node.type
    if kind not in KINDS:
        raise AttachmentError(f"question {node.name} does not take a file")
    limit = file_limit(form, node)
    path = Path(path_text.strip()).expanduser()
    with _open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise AttachmentError("the file is empty (0 bytes)")
        if size > limit:
            raise AttachmentError(f"the file is larger than the limit of {_mb(limit)}")
        head = _read_head(handle)
        found = sniff(head)
        taken_as = accepted(kind, found)
        if taken_as is None:
            what = f"a {found.content_type} file" if found is not None else "of an unknown type"
            raise AttachmentError(
                f"the file is {what}, not {_KIND_WORDS[kind]} ({_FAMILY.get(kind, '')})"
            )
        strip = kind == "image" and not keeps_metadata(form, node)
        if strip:
            data = head + handle.read(limit + 1 - len(head))
            pieces: Iterator[bytes] = iter((strip_image(data, taken_as.content_type),))
        else:
            pieces = _pieces(handle, head, chunk_size)
        attachment = ws.attachments.add(
            pieces,
            record_id=record_id,
            question=question,
            kind=kind,
            content_type=taken_as.content_type,
            extension=taken_as.extension,
            chunk_size=chunk_size,
            stripped=strip,
            limit=limit,
        )
    return Taken(attachment=attachment, stripped=strip)


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for reading only if it is a regular file (a FIFO never blocks us)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AttachmentError("there is no file there (moved or removed?)") from None
    except PermissionError:
        raise AttachmentError("the file cannot be read (permission denied)") from None
    except OSError:
        raise AttachmentError("the file cannot be read") from None
    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError("that is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise AttachmentError("that is not a regular file (a device, a pipe or a socket)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise AttachmentError("the file was removed before it could be copied") from None
    except OSError:
        raise AttachmentError("the file cannot be read") from None
    handle = os.fdopen(fd, "rb")
    try:
        # Checked again on what was opened: the path may have changed in between.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AttachmentError("that is not a regular file (a device, a pipe or a socket)")
        yield handle
    except OSError:
        raise AttachmentError("the file could not be read to the end") from None
    finally:
        handle.close()


def _read_head(handle: IO[bytes]) -> bytes:
    head = b""
    while len(head) < 4096:
        piece = handle.read(4096 - len(head))
        if not piece:
            break
        head += piece
    return head


def _pieces(handle: IO[bytes], head: bytes, chunk_size: int) -> Iterator[bytes]:
    yield head
    while True:
        piece = handle.read(chunk_size)
        if not piece:
            return
        yield piece


def delete_original(path_text: str) -> None:
    """Delete the file the worker chose, once it is copied (the laptop may be seized)."""
    try:
        os.remove(Path(path_text.strip()).expanduser())
    except FileNotFoundError:
        return
    except OSError:
        raise AttachmentError("the original could not be deleted (permission denied?)") from None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"
