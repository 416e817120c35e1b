"""Commands: workspace (being built)."""

from __future__ import annotations
