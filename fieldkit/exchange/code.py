"""Enrolment codes as people read, type and say them (DESIGN §3).

A code is 25 Crockford base32 characters in five groups of five::

    16 characters   the 80-bit secret (never sent to the server)
     8 characters   the first 40 bits of the project's fingerprint
     1 character    a check character (weighted sum modulo 31), so a typo is caught at once

The fingerprint part lets the enrolling laptop refuse, with a clear line, a server that shows
another project; the MAC keyed from the secret is what proves it (fieldkit.crypto.enrolment).
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.errors import UsageError
from sync.protocol import CODE_ALPHABET, base32

__all__ = ["EnrolmentCode"]

_SECRET_CHARS = 16
_FINGERPRINT_CHARS = 8
_LENGTH = _SECRET_CHARS + _FINGERPRINT_CHARS + 1
# What people mistype for what they meant: O for zero, I and L for one (Crockford).
_FIXES = str.maketrans("OIL", "011")


def _check(text: str) -> str:
    total = sum((i + 1) * CODE_ALPHABET.index(c) for i, c in enumerate(text))
    return CODE_ALPHABET[total % 31]


@dataclass(frozen=True)
class EnrolmentCode:
    """A one-time code: its secret and the fingerprint prefix of the project it is for."""

    secret: bytes
    fingerprint_prefix: str

    @classmethod
    def make(cls, secret: bytes, *, fingerprint: str) -> EnrolmentCode:
        """A code for ``secret`` (10 bytes) and the project's fingerprint text."""
        return cls(secret, fingerprint.replace("-", "")[:_FINGERPRINT_CHARS])

    @classmethod
    def parse(cls, text: str) -> EnrolmentCode:
        """Read a typed code (case, dashes, spaces and O/I/L forgiven); UsageError if it is
        not a code or fails its check character."""
        cleaned = text.upper().replace("-", "").replace(" ", "").translate(_FIXES)
        if len(cleaned) != _LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
            raise UsageError(
                "that is not an enrolment code: it has 25 letters and digits in five groups, "
                "e.g. ABCDE-FGHJK-MNPQR-STVWX-YZ012"
            )
        if _check(cleaned[:-1]) != cleaned[-1]:
            raise UsageError("the enrolment code is mistyped: check it against the one you got")
        bits = 0
        for c in cleaned[:_SECRET_CHARS]:
            bits = (bits << 5) | CODE_ALPHABET.index(c)
        secret = bits.to_bytes(_SECRET_CHARS * 5 // 8, "big")
        return cls(secret, cleaned[_SECRET_CHARS:-1])

    def matches(self, fingerprint: str) -> bool:
        """Whether a project fingerprint starts as this code says."""
        return fingerprint.replace("-", "")[:_FINGERPRINT_CHARS] == self.fingerprint_prefix

    def __str__(self) -> str:
        body = base32(self.secret) + self.fingerprint_prefix
        text = body + _check(body)
        return "-".join(text[i : i + 5] for i in range(0, _LENGTH, 5))

    def __repr__(self) -> str:
        return "EnrolmentCode(…)"  # the secret never reaches a log or a traceback
