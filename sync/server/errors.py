"""Errors of the server, each with its HTTP status; one handler in app.py renders them.

They derive from fieldkit.errors so a library caller (tests, the admin CLI run in-process) sees
the same tree as everywhere else: 401/403 are AuthError, bad requests are ProtocolError.
"""

from __future__ import annotations

from fieldkit.errors import AuthError, FieldkitError, ProtocolError, ServerError

__all__ = [
    "BadRequest",
    "CodeRefused",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "RequestTimeout",
    "Unauthenticated",
    "UnsupportedMediaType",
    "status_of",
]


class Unauthenticated(AuthError):
    """No token, an unknown token, or a revoked device."""

    status = 401
    code = "unauthorized"


class CodeRefused(Unauthenticated):
    """An enrolment code the server does not know, already spent, or past its expiry: one
    answer for the three, so a guesser learns nothing of which."""

    code = "enrolment_code_refused"


class Forbidden(AuthError):
    """A valid token whose role or project does not allow the call."""

    status = 403
    code = "forbidden"


class BadRequest(ProtocolError):
    """A request that does not follow the protocol."""

    status = 400
    code = "bad_request"


class NotFound(ProtocolError):
    """A device, project or key the call names does not exist (for this caller)."""

    status = 404
    code = "not_found"


class Conflict(ProtocolError):
    """The request contradicts what the server already holds."""

    status = 409
    code = "conflict"


class Gone(ProtocolError):
    """A call of an older protocol that the server no longer offers (and says what replaced it)."""

    status = 410
    code = "gone"


class RequestTimeout(ProtocolError):
    """The body did not arrive within the server's time limit."""

    status = 408
    code = "timeout"


class PayloadTooLarge(ProtocolError):
    """A body over the size limit, before or after decompression."""

    status = 413
    code = "too_large"


class UnsupportedMediaType(ProtocolError):
    """A body that is not JSON, or an encoding other than gzip/identity."""

    status = 415
    code = "unsupported_media_type"


def status_of(exc: FieldkitError) -> tuple[int, str]:
    """HTTP status and machine code for any FieldkitError (the one mapping of the server)."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(status, int) and isinstance(code, str):
        return status, code
    if isinstance(exc, AuthError):
        return 401, "unauthorized"
    if isinstance(exc, ServerError):
        return 503, "server_error"
    return 400, "bad_request"
