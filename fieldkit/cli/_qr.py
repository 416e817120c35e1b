"""A QR code in the terminal, for a fingerprint a phone or another laptop can scan."""

from __future__ import annotations

import io

__all__ = ["terminal_qr"]


def terminal_qr(text: str) -> str:
    """``text`` as a QR code drawn with block characters (two rows per line)."""
    import segno

    code = segno.make(text.replace("-", ""), error="m")
    buffer = io.StringIO()
    code.terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue().rstrip("\n")
