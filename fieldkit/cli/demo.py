"""Commands: demo (being built)."""

from __future__ import annotations
