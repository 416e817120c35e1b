"""Which main-instance nodes an expression reads: the dependency graph's input."""

from __future__ import annotations

from collections.abc import Callable

from fieldkit.errors import ExpressionError

from ._ast import Binary, Call, Expr, Filter, Literal, Negate, Number, Ref

Resolver = Callable[[str], "str | None"]


def _split(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def resolve_ref(ref: Ref, resolve_name: Resolver) -> tuple[str, ...]:
    """The absolute template path of ``${name}`` as names; ExpressionError when unknown."""
    if ref.name.startswith("last-saved#"):
        raise ExpressionError(
            f"${{{ref.name}}} (last-saved) is not supported, at character {ref.pos}",
            offset=ref.pos,
        )
    path = resolve_name(ref.name)
    if path is None:
        raise ExpressionError(
            f"${{{ref.name}}} refers to no question, at character {ref.pos}", offset=ref.pos
        )
    return _split(path)


# -- references ------------------------------------------------------------------------------


def _collect(
    expr: Expr,
    context: tuple[str, ...] | None,
    resolve_name: Resolver,
    refs: set[str],
    instances: set[str],
    functions: set[str],
) -> None:
    """Gather the main-instance template paths ``expr`` reads, relative to ``context``."""
    owner_context = context

    def visit(e: Expr, here: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """Record what ``e`` reads; return the template path it selects, if it is a path."""
        if isinstance(e, Literal | Number):
            return None
        if isinstance(e, Ref):
            names = resolve_ref(e, resolve_name)
            refs.add("/" + "/".join(names))
            return names
        if isinstance(e, Negate):
            visit(e.operand, here)
            return None
        if isinstance(e, Binary):
            for operand in e.operands:
                visit(operand, here)
            return None
        if isinstance(e, Call):
            functions.add(e.name)
            for arg in e.args:
                visit(arg, here)
            if e.name == "current" and not e.args:
                return owner_context
            if e.name == "instance" and e.args and isinstance(e.args[0], Literal):
                instances.add(e.args[0].value)
            return None
        if isinstance(e, Filter):
            selected = visit(e.base, here)
            for pred in e.predicates:
                visit(pred, selected)
            return selected
        # Path
        if e.base is not None:
            start = visit(e.base, here)
        elif e.absolute:
            start = ()
        else:
            start = here
        current = start
        for step in e.steps:
            if current is None:
                pass
            elif step.axis == "self" and step.test == "node()":
                pass
            elif step.axis == "parent" and step.test == "node()":
                current = current[:-1] if current else None
            elif step.axis == "child" and step.test not in ("*", "node()"):
                current = current + (step.test,)
            else:
                if current:
                    refs.add("/" + "/".join(current))
                current = None
            for pred in step.predicates:
                visit(pred, current)
        if current:
            refs.add("/" + "/".join(current))
        return current

    visit(expr, context)
