"""Removing what identifies from an image before it is stored (issue 17, DESIGN §6a).

A phone's photo carries its place (EXIF GPS), the camera's serial number, the owner's name,
editing software, dates, a thumbnail of the original (which survives crops) and XMP or IPTC
text. These are container segments, not pixels, so they are removed without re-encoding:
the pixels a worker saw are the pixels the coordinator gets. What is kept is what displays
the image rightly: the JPEG tables, the colour profile (ICC), Adobe's colour transform, and
the orientation, written back as a minimal EXIF holding that one tag.
"""

from __future__ import annotations

import io
import struct

from fieldkit.errors import AttachmentError

__all__ = ["strip_image"]

_ORIENTATION = 0x0112
# PNG chunks that hold text, EXIF or a time stamp.
_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
# WebP chunks of metadata, and their flags in VP8X.
_WEBP_DROP = {b"EXIF", b"XMP "}


def strip_image(data: bytes, content_type: str) -> bytes:
    """The image without identifying metadata; ``AttachmentError`` if it cannot be read."""
    _check_readable(data)
    if content_type == "image/jpeg":
        return _strip_jpeg(data)
    if content_type == "image/png":
        return _strip_png(data)
    if content_type == "image/webp":
        return _strip_webp(data)
    raise AttachmentError(f"cannot remove the metadata of a {content_type} image")


def _check_readable(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
        raise AttachmentError(
            "the file is not a readable image (damaged or not what it claims)"
        ) from None


def _orientation(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, struct.error):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_exif(value: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[_ORIENTATION] = value
    payload: bytes = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return payload


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:  # COM: free text
        return False
    if marker == 0xE0:  # APP0: JFIF yes, its JFXX thumbnail extension no
        return payload.startswith(b"JFIF\x00")
    if marker == 0xE2:  # APP2: the ICC colour profile yes, MPF (more pictures) and FlashPix no
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:  # APP14: Adobe's colour transform
        return payload.startswith(b"Adobe")
    return not 0xE1 <= marker <= 0xEF  # EXIF, XMP, IPTC and every other application segment


def _strip_jpeg(data: bytes) -> bytes:
    orientation = _orientation(data)
    out = bytearray(b"\xff\xd8")
    pos = 2
    wrote_exif = orientation == 1
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise AttachmentError("the JPEG is damaged")
        while pos < n and data[pos] == 0xFF:
            pos += 1  # fill bytes
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: anything after it (appended pictures, trailers) is dropped
            out += b"\xff\xd9"
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += bytes((0xFF, marker))
            continue
        if pos + 2 > n:
            raise AttachmentError("the JPEG is damaged")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > n:
            raise AttachmentError("the JPEG is damaged")
        payload = data[pos + 2 : pos + length]
        segment = data[pos - 2 : pos + length]
        pos += length
        if not wrote_exif and not (marker == 0xE0 and payload.startswith(b"JFIF\x00")):
            exif = _orientation_exif(orientation)
            out += b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
            wrote_exif = True
        metadata = 0xE0 <= marker <= 0xEF or marker == 0xFE
        if not metadata or _keep_jpeg_segment(marker, payload):
            out += segment
        if marker == 0xDA:  # SOS: entropy-coded data up to the next marker
            end = _scan_end(data, pos)
            out += data[pos:end]
            pos = end
    raise AttachmentError("the JPEG is cut short")


def _scan_end(data: bytes, pos: int) -> int:
    """Where entropy-coded data after SOS ends: the first marker that is not a stuffed
    0xFF00, a restart marker or fill."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= n:
            return n
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
            continue
        if following == 0xFF:
            pos += 1
            continue
        return pos


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    n = len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise AttachmentError("the PNG is cut short")
        if kind not in _PNG_DROP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise AttachmentError("the PNG is cut short")


def _strip_webp(data: bytes) -> bytes:
    body = bytearray()
    pos = 12
    n = len(data)
    while pos + 8 <= n:
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + length + (length & 1)
        if end > n + (length & 1):
            raise AttachmentError("the WebP is cut short")
        chunk = bytearray(data[pos:end])
        if kind == b"VP8X" and len(chunk) > 8:
            chunk[8] &= ~0x0C & 0xFF  # the EXIF and XMP flags
        if kind not in _WEBP_DROP:
            body += chunk
        pos = end
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + bytes(body)
