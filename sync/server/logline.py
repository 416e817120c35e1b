"""What the server's log lines may contain: one line each, no control characters, no secrets.

A request path is chosen by whoever sends the request, token or not. uvicorn percent-decodes
it, so ``/v1/x%0a2026-01-01 INFO forged`` or ``%1b[2J`` would put a forged line or a raw
terminal escape into the log (issue 14). The access log therefore names the route template
(``/v1/admin/devices/{device_id}/revoke``: no device id either) and, for a path that matched
no route, the path percent-encoded again (ASCII only) and shortened. Every message then passes
through fieldkit.text, the project's one policy for text from elsewhere, as a last guard.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

from fieldkit.text import one_line

__all__ = ["LineFormatter", "path_for_log"]

_PATH_LIMIT = 120
# Unreserved characters and the path separators stay readable; everything else, including
# %, space, quotes, non-ASCII and every control character, is written as %XX.
_SAFE = "/-._~!$&'()*+,;=:@"


def path_for_log(scope: MutableMapping[str, Any]) -> str:
    """The route template this request matched, else its path re-encoded and shortened."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    path = scope.get("path", "")
    encoded = quote(path if isinstance(path, str) else "", safe=_SAFE)
    if len(encoded) > _PATH_LIMIT:
        return encoded[: _PATH_LIMIT - 3] + "..."
    return encoded


class LineFormatter(logging.Formatter):
    """A formatter whose every record is one inert line (no newline, no escape sequence)."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, with the message folded to one line and control characters shown
        as U+FFFD; exception tracebacks are never written (only their class name is)."""
        message = one_line(record.getMessage(), limit=2000)
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        record = logging.makeLogRecord({**record.__dict__, "msg": message, "args": None})
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return super().format(record)
