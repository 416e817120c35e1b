"""Commands: forms_engine (being built)."""

from __future__ import annotations
