"""What a file really is, read from its first bytes (never from its name).

Each question type takes the content types an ODK form would put there; a file that claims
one type by its name and is another by its bytes is refused (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileType", "KINDS", "accepted", "sniff"]

# The question types that take a file (ODK's binary questions).
KINDS = frozenset({"image", "audio", "video", "file"})


@dataclass(frozen=True)
class FileType:
    """A content type and the extension a copy is named with."""

    content_type: str
    extension: str
    family: str  # image | audio | video | document


_JPEG = FileType("image/jpeg", ".jpg", "image")
_PNG = FileType("image/png", ".png", "image")
_WEBP = FileType("image/webp", ".webp", "image")
_HEIC = FileType("image/heic", ".heic", "image")
_GIF = FileType("image/gif", ".gif", "image")


def _ftyp(head: bytes) -> FileType | None:
    """ISO base media (MP4, MOV, M4A, 3GP, HEIC) by its major brand."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return _HEIC
    if brand in (b"M4A ", b"M4B "):
        return FileType("audio/mp4", ".m4a", "audio")
    if brand.startswith(b"3g"):
        return FileType("video/3gpp", ".3gp", "video")
    if brand == b"qt  ":
        return FileType("video/quicktime", ".mov", "video")
    return FileType("video/mp4", ".mp4", "video")


def sniff(head: bytes) -> FileType | None:
    """The type of a file from its first bytes (at least 64 when the file has them)."""
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return FileType("audio/wav", ".wav", "audio")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileType("video/x-msvideo", ".avi", "video")
    if head.startswith(b"OggS"):
        return FileType("audio/ogg", ".ogg", "audio")
    if head.startswith(b"fLaC"):
        return FileType("audio/flac", ".flac", "audio")
    if head.startswith(b"#!AMR"):
        return FileType("audio/amr", ".amr", "audio")
    if head.startswith(b"ID3") or (
        len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0
    ):
        return FileType("audio/mpeg", ".mp3", "audio")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return FileType("audio/aac", ".aac", "audio")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FileType("video/webm", ".webm", "video")
    found = _ftyp(head)
    if found is not None:
        return found
    if head.startswith(b"%PDF-"):
        return FileType("application/pdf", ".pdf", "document")
    if head.startswith(b"PK\x03\x04"):
        return FileType("application/zip", ".zip", "document")
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                return None
        return FileType("text/plain", ".txt", "document")
    return None


def accepted(kind: str, found: FileType | None) -> FileType | None:
    """The type as ``kind`` takes it, or None when that question cannot take this file.

    An image question takes JPEG, PNG and WebP (their identifying metadata can be removed
    without re-encoding); audio and video take their families (a WebM or 3GP may be either);
    a file question takes anything, named ``.bin`` when its type is unknown.
    """
    if kind == "file":
        return found or FileType("application/octet-stream", ".bin", "document")
    if found is None:
        return None
    if kind == "image":
        return found if found in (_JPEG, _PNG, _WEBP) else None
    if kind == "audio":
        if found.family == "audio":
            return found
        if found.extension in (".webm", ".3gp"):
            return FileType(
                found.content_type.replace("video/", "audio/"), found.extension, "audio"
            )
        return None
    if kind == "video":
        return found if found.family == "video" else None
    return None
