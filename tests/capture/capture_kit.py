"""What the capture tests share: a scripted terminal and a bundled consent on file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from consent_answers import consent
from rich.console import Console, RenderableType

from fieldkit.capture import QuickExit, capture_answers, case_code_of
from fieldkit.store import Workspace


def record_consent(ws: Workspace, **changes: Any) -> str:
    """Finalize a bundled consent (``changes`` by question name; None drops one); its code."""
    record = capture_answers(ws, "consent", data=consent(**changes), source="consent.json")
    code = case_code_of(record)
    assert code is not None
    return code


class ScriptedTerminal:
    """A Terminal that answers from a list and keeps what was shown as plain text."""

    def __init__(self, *answers: str, width: int = 200, height: int = 400) -> None:
        self.answers = list(answers)
        self.width, self.height = width, height
        self.console = Console(record=True, width=width, file=open("/dev/null", "w"))  # noqa: SIM115
        self.cleared = 0
        self._cleared_at = 0
        self.prompts: list[str] = []

    def show(self, *objects: RenderableType) -> None:
        for obj in objects:
            self.console.print(obj)

    def ask(self, prompt: str) -> str:
        self.prompts.append(prompt)
        self.console.print(prompt, markup=False, highlight=False)
        if not self.answers:
            raise QuickExit
        return self.answers.pop(0)

    def ask_live(self, prompt: str, *, draw: Callable[[str], Sequence[RenderableType]]) -> str:
        self.show(*draw(""))
        return self.ask(prompt)

    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def clear(self) -> None:
        self.cleared += 1
        self._cleared_at = len(self.console.export_text(clear=False))

    @property
    def text(self) -> str:
        """Everything shown, clears included (what the test reads)."""
        return " ".join(self.console.export_text(clear=False).split())

    @property
    def screen(self) -> str:
        """What a real terminal still shows: everything after the last clear."""
        return " ".join(self.console.export_text(clear=False)[self._cleared_at :].split())

    def close(self) -> None:
        self.console.file.close()

    def __enter__(self) -> ScriptedTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
