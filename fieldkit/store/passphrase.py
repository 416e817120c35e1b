"""The passphrase policy: refuse the weak ones, with a reason the user can act on."""

from __future__ import annotations

__all__ = ["MIN_LENGTH", "passphrase_problem"]

MIN_LENGTH = 10

# Passwords that top every breach list (NCSC "100k most common", SecLists), lower-cased; a
# passphrase that is one of these, or one of these plus a few digits or symbols, is refused.
_COMMON = frozenset(
    """
    password passw0rd p@ssword p@ssw0rd password1 password12 password123 password1234
    qwerty qwertyuiop qwerty123 qwertyuiop123 asdfghjkl asdfghjkl1 zxcvbnm zxcvbnm123
    iloveyou iloveyou1 iloveyou123 letmein letmein123 welcome welcome1 welcome123
    admin admin123 administrator monkey monkey123 dragon dragon123 football baseball
    sunshine princess trustno1 superman batman starwars whatever freedom shadow master
    abc123 abcdef abcdefg abcdefgh abcdefghij 1q2w3e4r 1q2w3e4r5t 1qaz2wsx 1qaz2wsx3edc
    changeme changeme123 secret secret123 letmeinplease fieldkit fieldkit123 survey
    survey123 passphrase mypassword mypassword1 myPassword correcthorsebatterystaple
    """.lower().split()
)
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


def passphrase_problem(passphrase: str) -> str | None:
    """Why ``passphrase`` is too weak to protect a workspace, or ``None`` when it will do."""
    if len(passphrase) < MIN_LENGTH:
        return f"a passphrase needs at least {MIN_LENGTH} characters"
    if passphrase.strip() != passphrase:
        return "a passphrase may not start or end with a space"
    lowered = passphrase.lower()
    if len(set(lowered)) <= 2:
        return "a passphrase needs more than one or two different characters"
    core = lowered.strip("0123456789!@#$%^&*.?_- ")
    if lowered in _COMMON or core in _COMMON:
        return "that passphrase is on the list of the most common passwords"
    if _is_sequence(lowered):
        return "a passphrase may not be a run of consecutive keys or letters"
    if _is_repetition(lowered):
        return "a passphrase may not be a short pattern repeated"
    return None


def _is_sequence(text: str) -> bool:
    for run in _SEQUENCES:
        for source in (run, run[::-1]):
            if text in source * 2:
                return True
    return False


def _is_repetition(text: str) -> bool:
    # "abcabcabca", "123412341234": any period of at most 4 characters repeated to the end.
    for period in range(1, 5):
        unit = text[:period]
        if (unit * (len(text) // period + 1))[: len(text)] == text:
            return True
    return False
