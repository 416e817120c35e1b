"""Case codes made by fieldkit (DOMAIN §8): short, unique per device, with a check character.

A code reads ``7K-M4QX-R``: two characters from the device's random id, four random ones and a
check character, all in Crockford's base-32 alphabet (no I, L, O or U, so nothing is read as
1 or 0). The check character is Luhn mod 32 over the six others: every single wrong character
and almost every swap of two neighbours (all but about 1 in 500) is caught where the code is
typed. Codes this device has
handed out are kept (``ws.state`` key ``capture.case_codes``) so it never proposes one twice.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldkit.store import Workspace

__all__ = [
    "ALPHABET",
    "CASE_CODE_PATTERN",
    "is_case_code",
    "new_case_code",
    "normalize_case_code",
    "similar_codes",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
# What people type for the letters the alphabet leaves out (Crockford's rule).
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_CLASS = "[0-9A-HJKMNP-TV-Z]"
CASE_CODE_PATTERN = f"^{_CLASS}{{2}}-{_CLASS}{{4}}-{_CLASS}$"
_SHAPE = re.compile(CASE_CODE_PATTERN)
_STATE_KEY = "capture.case_codes"


def _check_character(payload: str) -> str:
    """Luhn mod N (N = 32) over ``payload``."""
    factor = 2
    total = 0
    for ch in reversed(payload):
        addend = factor * _INDEX[ch]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def normalize_case_code(text: str) -> str:
    """Upper case, spaces gone, I/L read as 1 and O as 0, dashes put back where they go."""
    flat = re.sub(r"[\s\-_.]", "", text.upper()).translate(_READ_AS)
    if len(flat) == 7 and all(ch in _INDEX for ch in flat):
        return f"{flat[:2]}-{flat[2:6]}-{flat[6]}"
    return text.strip().upper()


def is_case_code(code: str) -> bool:
    """A code of fieldkit's shape whose check character matches."""
    if not _SHAPE.match(code):
        return False
    payload = code[:2] + code[3:7]
    return _check_character(payload) == code[8]


def _device_part(device_id: str) -> str:
    digest = hashlib.sha256(f"fieldkit/case-code/{device_id}".encode()).digest()
    return ALPHABET[digest[0] % 32] + ALPHABET[digest[1] % 32]


def new_case_code(ws: Workspace, *, taken: Iterable[str] = ()) -> str:
    """A code this device has never handed out, and none in ``taken`` (codes on this laptop);
    remembered in the workspace at once, so an abandoned consent never reuses it."""
    issued = list(ws.state.get(_STATE_KEY, []) or [])
    avoid = set(issued) | set(taken)
    prefix = _device_part(str(ws.device_id))
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(4))
        payload = prefix + body
        code = f"{prefix}-{body}-{_check_character(payload)}"
        if code not in avoid and not _erased(ws, code):
            break
    issued.append(code)
    ws.state.set(_STATE_KEY, issued)
    return code


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau–Levenshtein with adjacent swaps)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, start=1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def similar_codes(code: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """Codes in ``known`` within two typing mistakes of ``code``, nearest first."""
    flat = code.replace("-", "")
    scored = []
    for other in known:
        distance = _distance(flat, other.replace("-", ""))
        if 0 < distance <= 2:
            scored.append((distance, other))
    scored.sort()
    return [other for _, other in scored[:limit]]


def _erased(ws: Workspace, code: str) -> bool:
    """Whether a case with this code was erased here (its code is no longer kept, only a
    keyed digest of it: ``fieldkit.store.case_orders``)."""
    from fieldkit.store.case_orders import ERASED, CaseOrders, case_tag

    return ERASED in CaseOrders(ws).marks(case_tag(ws, code))


def forget_case_code(ws: Workspace, code: str) -> None:
    """Drop an erased case's code from the codes this device handed out (``_erased`` keeps
    it from being proposed again)."""
    issued = list(ws.state.get(_STATE_KEY, []) or [])
    if code in issued:
        ws.state.set(_STATE_KEY, [c for c in issued if c != code])
