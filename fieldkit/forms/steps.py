"""``forms eval``: apply a list of steps to a fresh FormSession and report every node.

Input and output are DESIGN §8. A step that cannot apply (an unknown name, a value that does
not fit its question) is reported in ``errors`` and the run goes on; a value that does not fit
is still stored the way ODK's engine stores it (see ``values.coerce_answer``), so the state
matches ODK's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fieldkit.errors import AnswerError, FieldkitError, UsageError
from fieldkit.forms.model import Form
from fieldkit.forms.session import FormSession

__all__ = ["evaluate_steps", "parse_now"]


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant for ``--now`` (a time without offset is taken as local time)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError("--now must be an ISO 8601 date and time") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _apply(session: FormSession, step: Any) -> None:
    if not isinstance(step, dict):
        raise AnswerError("a step must be a JSON object")
    if "set" in step:
        value = step.get("value", "")
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        elif value is None:
            value = ""
        elif isinstance(value, bool):
            value = "true" if value else "false"
        try:
            session.check(str(step["set"]), str(value))
        except AnswerError:
            # Reported, and also stored as ODK would store it (a number cut to a whole one,
            # anything else that does not fit emptied), so the state stays ODK's.
            try:
                session.set(str(step["set"]), str(value), lenient=True)
            except AnswerError:
                pass
            raise
        session.set(str(step["set"]), str(value))
    elif "clear" in step:
        session.clear(str(step["clear"]))
    elif "add_repeat" in step:
        count = step.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise AnswerError("add_repeat count must be a whole number")
        for _ in range(count):
            session.add_repeat(str(step["add_repeat"]))
    elif "remove_repeat" in step:
        session.remove_repeat(str(step["remove_repeat"]))
    elif "set_language" in step:
        lang = step["set_language"]
        session.set_language(None if lang in {None, ""} else str(lang))
    else:
        raise AnswerError("unknown step (use set, add_repeat or set_language)")


def evaluate_steps(
    form: Form, steps: Sequence[Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Run ``steps`` on a new record of ``form``; ``{"nodes": [...], "errors": [...]}``."""
    session = FormSession(form, now=now)
    errors: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        try:
            _apply(session, step)
        except FieldkitError as exc:
            errors.append({"step": index, "message": str(exc)})
    return {"nodes": [state.as_eval() for state in session.eval_nodes()], "errors": errors}
