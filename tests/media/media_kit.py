"""Real files for the attachment tests: JPEGs with GPS and a serial number (made with Pillow),
PNG with text chunks, recordings and videos by their magic bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path

CANARY = "CANARY-7f3a9e1c"
PASSPHRASE = "media tests correct horse battery"

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
ARTIST = 0x013B
MAKE = 0x010F
DESCRIPTION = 0x010E
ORIENTATION = 0x0112
BODY_SERIAL = 0xA431
OWNER = 0xA430


def gps_jpeg(
    *, marker: str = CANARY, size: tuple[int, int] = (64, 48), orientation: int = 6
) -> bytes:
    """A real JPEG carrying GPS, camera serial, owner, artist, a comment and XMP."""
    from PIL import Image

    image = Image.new("RGB", size, (180, 40, 20))
    exif = Image.Exif()
    exif[MAKE] = "FieldCam"
    exif[ARTIST] = f"Artist {marker}"
    exif[DESCRIPTION] = f"desc {marker}"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 3.0)})
    sub = exif.get_ifd(EXIF_IFD)
    sub.update({BODY_SERIAL: f"SN-{marker}", OWNER: f"Owner {marker}"})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90, comment=f"comment {marker}".encode())
    data = out.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + marker.encode() + b"</x:xmpmeta>"
    segment = b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp
    return data[:2] + segment + data[2:]


def png_with_text(marker: str = CANARY) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", f"Author {marker}")
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 0)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def wav(seconds: float = 0.1) -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * int(8000 * seconds))
    return out.getvalue()


def mp4(size: int) -> bytes:
    """An MP4-shaped file of ``size`` bytes (ftyp box, then an mdat of random bytes)."""
    head = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2"
    body = size - len(head) - 8
    return head + (body + 8).to_bytes(4, "big") + b"mdat" + os.urandom(body)


def write_mp4(path: Path, size: int, *, piece: int = 4 * 1024 * 1024) -> Path:
    """A large MP4-shaped file written in pieces (never whole in memory)."""
    head = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2"
    with path.open("wb") as out:
        out.write(head + (size - len(head)).to_bytes(4, "big") + b"mdat")
        left = size - len(head) - 8
        while left > 0:
            n = min(piece, left)
            out.write(os.urandom(n))
            left -= n
    return path


def exif_tags(data: bytes) -> dict[int, object]:
    """Every EXIF tag of an image, the GPS and Exif IFDs included (tag → value)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        tags: dict[int, object] = dict(exif)
        for ifd in (GPS_IFD, EXIF_IFD):
            tags.update({(ifd << 16) | k: v for k, v in exif.get_ifd(ifd).items()})
        return tags


def pixels(data: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()
