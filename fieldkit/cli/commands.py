"""Imports every command module so that each registers its commands."""

from __future__ import annotations

from fieldkit.cli import (  # noqa: F401
    analysis,
    capture,
    demo,
    forms_engine,
    forms_store,
    groups,
    records,
    server,
    sync,
    workspace,
)
