"""Imports every command module so that each registers its commands, then sorts the commands
into the panels ``fieldkit --help`` shows, in the order a newcomer meets them."""

from __future__ import annotations

from typer.models import CommandInfo, TyperInfo

from fieldkit.cli import (  # noqa: F401
    analysis,
    bundle,
    capture,
    cases,
    demo,
    forms_engine,
    forms_store,
    groups,
    records,
    server,
    sync,
    workspace,
)
from fieldkit.cli.app import app

_PANELS = {
    "Start here": ("demo",),
    "Workspace": ("init", "passphrase", "recover", "lock", "wipe", "audit"),
    "Interviews": ("capture", "records", "cases", "forms"),
    "Sync": ("enroll", "sync", "pull", "project", "bundle"),
    "Coordinator": ("export", "report"),
    "Server": ("server",),
}
_ORDER = [name for names in _PANELS.values() for name in names]
_PANEL_OF = {name: panel for panel, names in _PANELS.items() for name in names}


def _name(info: CommandInfo | TyperInfo) -> str:
    if isinstance(info.name, str) and info.name:
        return info.name
    return str(getattr(info.callback, "__name__", "")).replace("_", "-")


for _command in app.registered_commands:
    _command.rich_help_panel = _PANEL_OF.get(_name(_command), "Other")
for _group in app.registered_groups:
    _group.rich_help_panel = _PANEL_OF.get(_name(_group), "Other")
app.registered_commands.sort(key=lambda i: _ORDER.index(n) if (n := _name(i)) in _ORDER else 99)
app.registered_groups.sort(key=lambda i: _ORDER.index(n) if (n := _name(i)) in _ORDER else 99)
