"""Files as answers (DESIGN §6a, issue 17): real type by content, size limits, identifying
metadata removed from images, copies into the encrypted workspace."""

from __future__ import annotations

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
    "delete_original",
    "file_limit",
    "is_file_question",
    "keeps_metadata",
    "sniff",
    "strip_image",
    "take_file",
]
