"""Form media: the pictures and sounds a form shows in its labels (`media::image`,
`media::audio`, `media::video`), kept in the workspace with the form (issue 17).

ODK keeps them in a folder next to the form (`FORM-media/`); `forms add` copies every file the
form names from there (or from the form's own folder) into the encrypted workspace, checked
by content. The interview cannot draw them in a terminal: it says the question has one and
how to open it (`fieldkit forms media FORM FILE --out PATH`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldkit.errors import AttachmentError, UsageError
from fieldkit.media._types import sniff

if TYPE_CHECKING:
    from fieldkit.forms import Form
    from fieldkit.store import Workspace
    from fieldkit.store.attachments import Attachment

__all__ = ["form_media_file", "form_media_names", "store_form_media"]

_LABEL_MEDIA = ("image", "big-image", "audio", "video")
_LIMIT = 50 * 1024 * 1024


def form_media_names(form: Form) -> list[str]:
    """Every media file name the form's labels name, in form order, once each."""
    names: list[str] = []
    for node in form.nodes():
        for what in _LABEL_MEDIA:
            value: Any = node.media.get(what)
            values = value.values() if isinstance(value, dict) else [value]
            for name in values:
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
    return names


def store_form_media(ws: Workspace, form: Form, source: Path) -> tuple[int, list[str]]:
    """Copy the media files ``form`` names from beside ``source`` into the workspace:
    (how many were stored, the names not found)."""
    folders = [source.parent / f"{source.stem}-media", source.parent]
    have = {a.question for a in ws.attachments.of_form(form.id)}
    stored, missing = 0, []
    for name in form_media_names(form):
        if name in have:
            continue
        if Path(name).name != name:
            missing.append(name)  # a path, not a file name: nothing outside the folder is read
            continue
        found = next((f / name for f in folders if (f / name).is_file()), None)
        if found is None:
            missing.append(name)
            continue
        data = found.read_bytes()[: _LIMIT + 1]
        if len(data) > _LIMIT:
            raise AttachmentError(f"form media {name} is larger than {_LIMIT // 2**20} MB")
        kind = sniff(data[:4096])
        if kind is None or kind.family == "document":
            raise AttachmentError(f"form media {name} is not a picture, sound or video")
        ws.attachments.add(
            iter((data,)),
            record_id=None,
            question=name,
            kind="form-media",
            content_type=kind.content_type,
            extension=kind.extension,
            chunk_size=1024 * 1024,
            stripped=False,
            origin="form",
            form_id=form.id,
        )
        stored += 1
    return stored, missing


def form_media_file(ws: Workspace, form_id: str, name: str) -> Attachment:
    """The stored media file ``name`` of form ``form_id``."""
    for attachment in ws.attachments.of_form(form_id):
        if attachment.question == name:
            return attachment
    raise UsageError(f"form {form_id} has no media file {name!r} in this workspace")
