"""Commands: sync (being built)."""

from __future__ import annotations
