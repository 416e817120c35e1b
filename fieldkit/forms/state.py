"""What a session reports about one node (``NodeState``) and what stops a record (``Problem``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldkit.forms.model import Choice

__all__ = ["NodeState", "Problem"]


@dataclass(frozen=True)
class NodeState:
    """Everything about one node of a session, as ``forms eval`` and capture need it."""

    path: str
    name: str
    type: str
    value: str
    relevant: bool
    required: bool
    readonly: bool
    constraint_valid: bool
    required_empty: bool
    constraint_message: str
    required_message: str = ""
    label: str = ""
    hint: str = ""
    guidance_hint: str = ""
    choices: tuple[Choice, ...] = ()
    appearance: str = ""
    sensitive: bool = False
    kind: str = "question"
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """ODK's validity: the constraint holds and no required answer is missing."""
        return self.constraint_valid and not self.required_empty

    def as_eval(self) -> dict[str, Any]:
        """The node as one entry of ``forms eval``'s JSON (DESIGN §8)."""
        return {
            "path": self.path,
            "name": self.name,
            "type": self.type,
            "value": self.value,
            "relevant": self.relevant,
            "required": self.required,
            "readonly": self.readonly,
            "constraint_valid": self.constraint_valid,
            "required_empty": self.required_empty,
            "valid": self.valid,
            "constraint_message": self.constraint_message,
        }


@dataclass(frozen=True)
class Problem:
    """Something that stops a record from being finalized (no answer text in it)."""

    path: str
    name: str
    message: str
