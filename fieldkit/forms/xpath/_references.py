"""Which main-instance nodes an expression reads: the dependency graph's input."""

from __future__ import annotations

from collections.abc import Callable

from fieldkit.errors import ExpressionError

from ._ast import Binary, Call, Expr, Filter, Literal, Negate, Number, Ref

Resolver = Callable[[str], "str | None"]

#: The step of a reference path that stands for any child element (``*``, ``node()``).
WILDCARD = "*"


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


# Functions whose arguments are node-sets read whole: a repeated field is at home there.
_NODESET_FUNCTIONS = frozenset(
    {
        "count",
        "sum",
        "min",
        "max",
        "join",
        "concat",
        "count-non-empty",
        "indexed-repeat",
        "randomize",
        "checklist",
        "weighted-checklist",
        "distance",
        "position",
        "name",
        "local-name",
    }
)


def _collect(
    expr: Expr,
    context: tuple[str, ...] | None,
    resolve_name: Resolver,
    *,
    refs: set[str],
    single: set[str],
    instances: set[str],
    functions: set[str],
) -> None:
    """Gather the main-instance template paths ``expr`` reads, relative to ``context``.

    ``single`` receives the paths whose value is used as ONE value (an operand, a function
    argument that is not a node-set argument), outside predicates: where such a path runs
    through a repeat that does not enclose the owner, the form reads "a repeat where a single
    value is needed".
    """
    owner_context = context

    def path_text(names: tuple[str, ...]) -> str:
        return "/" + "/".join(names)

    def visit(e: Expr, here: tuple[str, ...] | None, as_value: bool) -> tuple[str, ...] | None:
        """Record what ``e`` reads; return the template path it selects, if it is a path."""
        if isinstance(e, Literal | Number):
            return None
        if isinstance(e, Ref):
            names = resolve_ref(e, resolve_name)
            refs.add(path_text(names))
            if as_value:
                single.add(path_text(names))
            return names
        if isinstance(e, Negate):
            visit(e.operand, here, as_value)
            return None
        if isinstance(e, Binary):
            union = e.ops[0] == "|"
            for operand in e.operands:
                visit(operand, here, as_value and not union)
            return None
        if isinstance(e, Call):
            functions.add(e.name)
            args_as_value = as_value and e.name not in _NODESET_FUNCTIONS
            for arg in e.args:
                visit(arg, here, args_as_value)
            if e.name == "current" and not e.args:
                return owner_context
            if e.name == "instance" and e.args and isinstance(e.args[0], Literal):
                instances.add(e.args[0].value)
            return None
        if isinstance(e, Filter):
            selected = visit(e.base, here, False)
            for pred in e.predicates:
                visit(pred, selected, False)
            return selected
        # Path
        if e.base is not None:
            start = visit(e.base, here, False)
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
            elif step.axis == "child":
                # Any child (``/data/trip/*/times``, a loop's questions): a wildcard step,
                # matched against the form's nodes when the dependency graph is built.
                current = current + (WILDCARD,)
            else:
                if current:
                    refs.add(path_text(current))
                current = None
            for pred in step.predicates:
                visit(pred, current, False)
        if current:
            refs.add(path_text(current))
            if as_value and e.base is None:
                single.add(path_text(current))
        return current

    visit(expr, context, True)
