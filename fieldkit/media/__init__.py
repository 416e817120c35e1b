"""Files as answers (DESIGN §6a, issue 17): real type by content, size limits, identifying
metadata removed from images, copies into the encrypted workspace."""

from __future__ import annotations

from fieldkit.media._files import attachment_of, attachments_of, write_copy
from fieldkit.media._form_media import form_media_file, form_media_names, store_form_media
from fieldkit.media._intake import (
    DEFAULT_LIMITS_MB,
    Taken,
    delete_original,
    file_limit,
    is_file_question,
    keeps_metadata,
    take_file,
)
from fieldkit.media._strip import strip_image
from fieldkit.media._types import KINDS, FileType, accepted, sniff

__all__ = [
    "DEFAULT_LIMITS_MB",
    "KINDS",
    "FileType",
    "Taken",
    "accepted",
    "attachment_of",
    "attachments_of",
    "delete_original",
    "file_limit",
    "form_media_file",
    "form_media_names",
    "is_file_question",
    "keeps_metadata",
    "sniff",
    "store_form_media",
    "strip_image",
    "take_file",
    "write_copy",
]
