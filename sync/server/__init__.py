"""The central sync server: stores sealed envelopes it cannot read (DESIGN §6).

Public API: ``create_app(settings)`` (the FastAPI app), ``ServerSettings``, ``init_server``,
``serve`` and ``copy_storage``. Heavy imports (fastapi, sqlalchemy) happen when these are
first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync.server.settings import ServerSettings

if TYPE_CHECKING:
    from sync.server.app import create_app
    from sync.server.runner import copy_storage, init_server, serve

__all__ = ["ServerSettings", "copy_storage", "create_app", "init_server", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from sync.server.app import create_app

        return create_app
    if name in ("copy_storage", "init_server", "serve"):
        from sync.server import runner

        return getattr(runner, name)
    raise AttributeError(name)
