"""Commands: server (being built)."""

from __future__ import annotations
