"""Commands: forms_store (being built)."""

from __future__ import annotations
