"""The terminal interview over a FormSession (DESIGN §5): one question at a time, drafts saved
after every answer, review before finalize, a quick exit that saves and clears."""

from __future__ import annotations
