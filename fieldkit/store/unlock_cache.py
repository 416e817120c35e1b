"""The unlock cache: keys held in the Linux kernel keyring with an idle timeout, never on disk.

What is held is the workspace's ``SessionKeys`` (database, audit and key-file MAC keys derived
from the DMK), not the DMK: a stolen cache entry cannot set a new passphrase.

Uses the keyctl(2) system calls through ctypes on libc's ``syscall`` (no extra package). The
key lives in the session keyring (the login session's; the kernel falls back to the per-user
session keyring when the process has none) with possessor-only permissions, so other users,
and processes outside the session, cannot read it. Each use pushes the timeout back (an idle
timeout, DESIGN §3). Where the kernel or a sandbox refuses keyctl, every function quietly
reports "nothing cached" and the CLI asks for the passphrase instead.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["available", "forget", "recall", "remember"]

# keyctl(2), add_key(2) syscall numbers (asm/unistd_64.h, asm-generic/unistd.h).
_SYSCALLS = {
    "x86_64": (248, 250),  # add_key, keyctl
    "amd64": (248, 250),
    "aarch64": (217, 219),
    "arm64": (217, 219),
}
_KEY_SPEC_SESSION_KEYRING = -3
_KEYCTL_GET_KEYRING_ID = 0
_KEYCTL_REVOKE = 3
_KEYCTL_SETPERM = 5
_KEYCTL_SEARCH = 10
_KEYCTL_READ = 11
_KEYCTL_SET_TIMEOUT = 15
_KEYCTL_INVALIDATE = 21
# KEY_POS_VIEW|READ|WRITE|SEARCH|LINK|SETATTR: the possessor only; nobody else may even see it.
_PERM_POSSESSOR_ALL = 0x3F000000


def _description(workspace_id: str) -> bytes:
    return f"fieldkit:{workspace_id}".encode("ascii")


class _Keyctl:
    def __init__(self) -> None:
        numbers = _SYSCALLS.get(os.uname().machine.lower()) if hasattr(os, "uname") else None
        if not sys.platform.startswith("linux") or numbers is None:
            raise OSError("no kernel keyring on this platform")
        self.add_key_nr, self.keyctl_nr = numbers
        # The running program's own symbols include libc's ``syscall`` on Linux; this avoids
        # ctypes.util.find_library, which spawns processes and costs ~0.1 s at start-up.
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long

    def session_keyring(self) -> int:
        # Resolve without creating: a process with no session keyring of its own (a service,
        # a container shell) would otherwise get a fresh anonymous one that dies with it; this
        # way it gets the per-user session keyring that later commands also search.
        return self.keyctl(
            ctypes.c_long(_KEYCTL_GET_KEYRING_ID),
            ctypes.c_long(_KEY_SPEC_SESSION_KEYRING),
            ctypes.c_long(0),
        )

    def add_key(self, description: bytes, payload: bytes) -> int:
        keyring = self.session_keyring()
        result = self.libc.syscall(
            ctypes.c_long(self.add_key_nr),
            ctypes.c_char_p(b"user"),
            ctypes.c_char_p(description),
            ctypes.c_char_p(payload),
            ctypes.c_size_t(len(payload)),
            ctypes.c_long(keyring),
        )
        return self._check(result)

    def keyctl(self, *args: ctypes._SimpleCData[int] | ctypes.c_char_p) -> int:
        return self._check(self.libc.syscall(ctypes.c_long(self.keyctl_nr), *args))

    def search(self, description: bytes) -> int:
        return self.keyctl(
            ctypes.c_long(_KEYCTL_SEARCH),
            ctypes.c_long(_KEY_SPEC_SESSION_KEYRING),
            ctypes.c_char_p(b"user"),
            ctypes.c_char_p(description),
            ctypes.c_long(0),
        )

    def read(self, serial: int, size: int) -> bytes:
        buffer = ctypes.create_string_buffer(size)
        length = self.keyctl(
            ctypes.c_long(_KEYCTL_READ),
            ctypes.c_long(serial),
            ctypes.cast(buffer, ctypes.c_char_p),
            ctypes.c_size_t(size),
        )
        data = buffer.raw[: min(length, size)]
        ctypes.memset(buffer, 0, size)
        return data

    def set_timeout(self, serial: int, seconds: int) -> None:
        self.keyctl(
            ctypes.c_long(_KEYCTL_SET_TIMEOUT), ctypes.c_long(serial), ctypes.c_ulong(seconds)
        )

    def set_perm(self, serial: int, perm: int) -> None:
        self.keyctl(ctypes.c_long(_KEYCTL_SETPERM), ctypes.c_long(serial), ctypes.c_ulong(perm))

    def drop(self, serial: int) -> None:
        try:
            self.keyctl(ctypes.c_long(_KEYCTL_INVALIDATE), ctypes.c_long(serial))
        except OSError:
            # Kernels before 3.5 lack INVALIDATE; REVOKE makes the key unreadable at once too.
            self.keyctl(ctypes.c_long(_KEYCTL_REVOKE), ctypes.c_long(serial))

    @staticmethod
    def _check(result: int) -> int:
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, "keyctl failed")
        return int(result)


def _keyctl() -> _Keyctl | None:
    try:
        return _Keyctl()
    except OSError:
        return None


def available() -> bool:
    """Whether this process can use the kernel keyring (probes with a short-lived key)."""
    ctl = _keyctl()
    if ctl is None:
        return False
    try:
        serial = ctl.add_key(b"fieldkit:probe", b"\0")
        ctl.drop(serial)
    except OSError:
        return False
    return True


def remember(workspace_id: str, secret: bytes, *, timeout_seconds: int) -> bool:
    """Cache ``secret`` for ``timeout_seconds`` of idleness; False when there is no keyring."""
    ctl = _keyctl()
    if ctl is None or timeout_seconds <= 0:
        return False
    try:
        serial = ctl.add_key(_description(workspace_id), secret)
        # Timeout first: a key must never sit in the keyring without one, even briefly.
        ctl.set_timeout(serial, timeout_seconds)
        ctl.set_perm(serial, _PERM_POSSESSOR_ALL)
    except OSError:
        return False
    return True


def recall(workspace_id: str, *, timeout_seconds: int, size: int = 32) -> bytes | None:
    """The cached secret (and push its timeout back), or None when nothing usable is cached."""
    ctl = _keyctl()
    if ctl is None or timeout_seconds <= 0:
        return None
    try:
        serial = ctl.search(_description(workspace_id))
        data = ctl.read(serial, size)
        ctl.set_timeout(serial, timeout_seconds)
    except OSError:
        return None
    return data if len(data) == size else None


def forget(workspace_id: str) -> bool:
    """Drop the cached key for this workspace; True when there was one."""
    ctl = _keyctl()
    if ctl is None:
        return False
    dropped = False
    while True:
        try:
            serial = ctl.search(_description(workspace_id))
        except OSError:
            return dropped
        try:
            ctl.drop(serial)
        except OSError:
            return dropped
        dropped = True
