"""The compiler: syntax tree → a tree of Python closures, evaluated against an EvalContext.

Each node of the syntax tree becomes one closure ``fn(ctx) -> Value``; evaluating is calling the
root closure. Everything that can be decided once (reference resolution, which steps are plain
child names, how far an absolute path shares its route with the expression's own node, which
function implementation to call) is decided here, at load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fieldkit.errors import ExpressionError

from ._ast import Binary, Call, Expr, Filter, Literal, Negate, Number, Path, Ref, Step
from ._context import EvalContext, Node
from ._functions import compile_call
from ._nodes import document_of, document_order, step_nodes
from ._operators import _OPERATORS, _RELATIONAL, _equal
from ._parser import parse
from ._references import Resolver, _collect, _split, resolve_ref
from ._values import SCALAR, Value, string_to_number, to_boolean, to_number, to_string

__all__ = ["Compiled", "Expression", "compile_expression"]

Compiled = Callable[[EvalContext], Value]

_EMPTY: tuple[Node, ...] = ()


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the compiler knows about where an expression runs."""

    owner: tuple[str, ...] | None  # the owner's template path as names, root first
    resolve_name: Resolver
    in_predicate: bool


class Expression:
    """A compiled expression: evaluate it as often as needed against an EvalContext.

    ``references`` is the set of absolute template paths (no positions) the expression reads
    from the main instance — ``${name}`` references, absolute paths, relative paths resolved
    against ``owner`` (``..`` and ``.`` folded), and paths inside predicates. A path through
    ``*``, ``//`` or another non-name step contributes its name prefix (the nearest node it is
    certain to read under). Paths into secondary instances (``instance('id')/…``) are not main
    instance nodes: their ids are listed in ``instances`` instead.

    ``single_references`` is the subset read as ONE value (an operand or a plain function
    argument, outside predicates and node-set functions such as ``count()``, ``sum()``,
    ``join()``): one that runs through a repeat not enclosing the owner is "a repeat used where
    a single value is needed" (ODK reads only the first instance), which the loader reports.
    """

    __slots__ = (
        "_fn",
        "functions",
        "instances",
        "owner",
        "references",
        "single_references",
        "text",
        "tree",
    )

    def __init__(
        self,
        *,
        text: str,
        tree: Expr,
        owner: str | None,
        fn: Compiled,
        references: frozenset[str],
        single_references: frozenset[str],
        instances: frozenset[str],
        functions: frozenset[str],
    ) -> None:
        self.text = text
        self.tree = tree
        self.owner = owner
        self._fn = fn
        self.references = references
        self.single_references = single_references
        self.instances = instances
        self.functions = functions

    def evaluate(self, ctx: EvalContext) -> Value:
        """The raw XPath value: str, float, bool or a node-set."""
        return self._fn(ctx)

    def evaluate_boolean(self, ctx: EvalContext) -> bool:
        """The value as XPath boolean() (relevant, required, constraint, readonly)."""
        return to_boolean(self._fn(ctx))

    def evaluate_string(self, ctx: EvalContext) -> str:
        """The value as XPath string()."""
        return to_string(self._fn(ctx))

    def evaluate_number(self, ctx: EvalContext) -> float:
        """The value as XPath number() (repeat_count)."""
        return to_number(self._fn(ctx))

    def evaluate_nodes(self, ctx: EvalContext) -> Sequence[Node]:
        """The node-set the expression selects (itemsets); ExpressionError if not a node-set."""
        value = self._fn(ctx)
        if isinstance(value, SCALAR):
            raise ExpressionError("the expression does not select nodes")
        return value

    @property
    def volatile(self) -> bool:
        """True when the value can change without any reference changing (now(), random()…)."""
        return bool(self.functions & _VOLATILE)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


_VOLATILE = frozenset({"now", "today", "random", "uuid", "once"})


def compile_expression(text: str, *, owner: str | None, resolve_name: Resolver) -> Expression:
    """Parse and compile ``text`` once.

    ``owner`` is the template path of the node the expression belongs to (the question of a
    relevant/constraint/calculation), used for ``.``, relative paths and the contextualisation
    of absolute paths inside repeats; ``resolve_name`` maps ``${name}`` to an absolute template
    path or None. Raises ExpressionError (with ``offset``, the 1-based character column) for a
    syntax error, an unknown function, a wrong number of arguments or an unknown ``${name}``.
    """
    tree = parse(text)
    owner_names = _split(owner) if owner else None
    scope = _Scope(owner_names, resolve_name, False)
    compiler = _Compiler()
    fn = compiler.compile(tree, scope)
    refs: set[str] = set()
    single: set[str] = set()
    instances: set[str] = set()
    functions: set[str] = set()
    _collect(
        tree,
        owner_names,
        resolve_name,
        refs=refs,
        single=single,
        instances=instances,
        functions=functions,
    )
    return Expression(
        text=text,
        tree=tree,
        owner=owner,
        fn=fn,
        references=frozenset(refs),
        single_references=frozenset(single),
        instances=frozenset(instances),
        functions=frozenset(functions),
    )


_REF_IN_TEXT = re.compile(r"\$\{([^}]*)\}")


def _substitute_refs(literal: Literal, resolve_name: Resolver) -> str:
    """pyxform replaces ``${name}`` everywhere, string literals included, with `` /abs/path ``
    (spaces around): ``jr:choice-name(${q}, '${q}')`` relies on it."""
    if "${" not in literal.value:
        return literal.value

    def replace(match: re.Match[str]) -> str:
        names = resolve_ref(Ref(match.group(1).strip(), literal.pos), resolve_name)
        return " /" + "/".join(names) + " "

    return _REF_IN_TEXT.sub(replace, literal.value)


# -- compiling -------------------------------------------------------------------------------


class _Compiler:
    def compile(self, expr: Expr, scope: _Scope) -> Compiled:
        if isinstance(expr, Literal):
            value: Value = _substitute_refs(expr, scope.resolve_name)
            return lambda ctx: value
        if isinstance(expr, Number):
            number = expr.value
            return lambda ctx: number
        if isinstance(expr, Ref):
            names = resolve_ref(expr, scope.resolve_name)
            return self.absolute(names, (), scope)
        if isinstance(expr, Path):
            return self.path(expr, scope)
        if isinstance(expr, Filter):
            return self.filter(expr, scope)
        if isinstance(expr, Call):
            return compile_call(self, expr, scope)
        if isinstance(expr, Negate):
            operand = self.compile(expr.operand, scope)
            return lambda ctx: -to_number(operand(ctx))
        return self.binary(expr, scope)

    def predicate_scope(self, scope: _Scope) -> _Scope:
        return _Scope(scope.owner, scope.resolve_name, True)

    # -- operators ---------------------------------------------------------------------------
    def binary(self, expr: Binary, scope: _Scope) -> Compiled:
        operands = [self.compile(op, scope) for op in expr.operands]
        ops = expr.ops
        if ops[0] in ("or", "and"):
            return _logical(ops[0], operands)
        if ops[0] == "|":
            return _union(operands)
        first = operands[0]
        if len(ops) == 1:
            special = _compare_with_constant(ops[0], first, expr.operands[1], scope)
            if special is not None:
                return special
        rest = list(zip([_OPERATORS[op] for op in ops], operands[1:], strict=True))
        if len(rest) == 1:
            fn, second = rest[0]
            return lambda ctx: fn(first(ctx), second(ctx))

        def chain(ctx: EvalContext) -> Value:
            value = first(ctx)
            for fn, operand in rest:
                value = fn(value, operand(ctx))
            return value

        return chain

    # -- paths -------------------------------------------------------------------------------
    def path(self, expr: Path, scope: _Scope) -> Compiled:
        if expr.base is not None:
            base = self.compile(expr.base, scope)
            steps = self.steps(expr.steps, scope)

            def based(ctx: EvalContext) -> Value:
                start = base(ctx)
                if isinstance(start, SCALAR):
                    return _EMPTY
                return _walk(ctx, start, steps)

            return based
        if expr.absolute:
            plain: list[str] = []
            for step in expr.steps:
                if step.axis != "child" or step.predicates or step.test in ("*", "node()"):
                    break
                plain.append(step.test)
            return self.absolute(tuple(plain), expr.steps[len(plain) :], scope)
        steps = self.steps(expr.steps, scope)
        if len(steps) == 1:
            only = steps[0]
            return lambda ctx: only(ctx, (ctx.node,))
        return lambda ctx: _walk(ctx, (ctx.node,), steps)

    def absolute(self, names: tuple[str, ...], rest: Sequence[Step], scope: _Scope) -> Compiled:
        """``/n1/n2/…`` (plain child names), then any further steps.

        JavaRosa contextualises absolute references against the node an expression belongs to
        (TreeReference.contextualize): where the path runs through an ancestor of that node, it
        takes that ancestor rather than every instance of a repeat, so ``/data/member/age`` in
        ``/data/member[2]/name``'s relevance reads member[2]'s age. (pyxform achieves the same by
        writing such ``${age}`` as ``../age``.)
        """
        steps = self.steps(rest, scope)
        if not names:
            # "/" alone, or "/*…", "//…": from the document node.
            def from_document(ctx: EvalContext) -> Value:
                doc = document_of(ctx, ctx.root)
                return _walk(ctx, (doc,), steps) if steps else (doc,)

            return from_document
        owner = scope.owner
        # Only steps the path goes THROUGH are contextualised: /data/member/age from inside
        # member[2] reads member[2]'s age, but count(/data/member) still counts every member.
        limit = len(names) if steps else len(names) - 1
        common = 0
        if owner is not None:
            while common < min(len(owner), limit) and owner[common] == names[common]:
                common += 1
        root_name = names[0]
        tail = names[1:]

        if owner is None or common <= 1:
            # Without an owner the expression is plain XPath 1.0 (nothing to contextualise
            # against); sharing only the root with the owner leaves nothing to contextualise.
            # Shares only the root with the owner: nothing to contextualise.
            if len(tail) == 1 and not steps:
                child = tail[0]

                def simple(ctx: EvalContext) -> Value:
                    root = ctx.root
                    if root.name != root_name:
                        return _EMPTY
                    return root.children_named(child)

                return simple

            def from_root(ctx: EvalContext) -> Value:
                root = ctx.root
                if root.name != root_name:
                    return _EMPTY
                nodes: Sequence[Node] = (root,)
                for name in tail:
                    nodes = _children_named(nodes, name)
                    if not nodes:
                        return nodes
                return _walk(ctx, nodes, steps) if steps else nodes

            return from_root

        up = len(owner) - common
        route = names[:common]

        def contextual(ctx: EvalContext) -> Value:
            origin = ctx.current if ctx.current is not None else ctx.node
            anchor: Node | None = None
            depth = 0
            # Fast route: the origin sits at the owner's template path, so the shared
            # ancestor is `up` levels above it.
            candidate: Node | None = origin
            for _ in range(up):
                if candidate is None:
                    break
                candidate = candidate.parent
            if candidate is not None and candidate.name == route[-1]:
                anchor, depth = candidate, common
            else:
                anchor, depth = _contextualise(ctx.root, origin, route)
                if anchor is None:
                    return _EMPTY
            nodes: Sequence[Node] = (anchor,)
            for name in names[depth:]:
                nodes = _children_named(nodes, name)
                if not nodes:
                    return nodes
            return _walk(ctx, nodes, steps) if steps else nodes

        below = names[common:]
        if up == 1 and len(below) == 1 and not steps:
            # The commonest shape: a sibling in the same group or repeat instance.
            group, sibling_name = route[-1], below[0]

            def sibling(ctx: EvalContext) -> Value:
                origin = ctx.current if ctx.current is not None else ctx.node
                parent = origin.parent
                if parent is not None and parent.name == group:
                    return parent.children_named(sibling_name)
                return contextual(ctx)

            return sibling
        return contextual

    def steps(self, steps: Sequence[Step], scope: _Scope) -> list[_StepFn]:
        return [self.step(step, scope) for step in steps]

    def step(self, step: Step, scope: _Scope) -> _StepFn:
        inner = self.predicate_scope(scope)
        preds = [self.compile(p, inner) for p in step.predicates]
        axis, test = step.axis, step.test
        if axis == "child" and test not in ("*", "node()") and not preds:
            name = test

            def child(ctx: EvalContext, nodes: Sequence[Node]) -> Sequence[Node]:
                if len(nodes) == 1:
                    return nodes[0].children_named(name)
                return _children_named(nodes, name)

            return child
        if axis == "self" and test == "node()" and not preds:
            return lambda ctx, nodes: nodes
        if axis == "parent" and test == "node()" and not preds:

            def parent(ctx: EvalContext, nodes: Sequence[Node]) -> Sequence[Node]:
                if len(nodes) == 1:
                    up = nodes[0].parent
                    return (up,) if up is not None else _EMPTY
                found = {id(p): p for n in nodes if (p := n.parent) is not None}
                return document_order(list(found.values()))

            return parent

        def general(ctx: EvalContext, nodes: Sequence[Node]) -> Sequence[Node]:
            out: list[Node] = []
            seen: set[int] = set()
            for node in nodes:
                selected: Sequence[Node] = step_nodes(ctx, node, axis, test)
                for pred in preds:
                    selected = _apply_predicate(ctx, selected, pred)
                for found in selected:
                    if id(found) not in seen:
                        seen.add(id(found))
                        out.append(found)
            if len(nodes) > 1 or axis in _REVERSE_AXES:
                return document_order(out)
            return out

        return general

    def filter(self, expr: Filter, scope: _Scope) -> Compiled:
        base = self.compile(expr.base, scope)
        inner = self.predicate_scope(scope)
        preds = [self.compile(p, inner) for p in expr.predicates]

        def filtered(ctx: EvalContext) -> Value:
            value = base(ctx)
            if isinstance(value, SCALAR):
                return _EMPTY
            nodes: Sequence[Node] = value
            for pred in preds:
                nodes = _apply_predicate(ctx, nodes, pred)
            return nodes

        return filtered


def _compare_with_constant(op: str, left: Compiled, right: Expr, scope: _Scope) -> Compiled | None:
    """``path = 'yes'``, ``path > 3``: the commonest relevance shapes, without the generic
    dispatch (same results as :func:`_equal` / :func:`_relational`)."""
    if op in ("=", "!=") and isinstance(right, Literal) and "${" not in right.value:
        text = right.value
        if op == "=":

            def equal(ctx: EvalContext) -> Value:
                value = left(ctx)
                if isinstance(value, SCALAR):
                    return _equal(value, text, False)
                for node in value:
                    if node.text() == text:
                        return True
                return False

            return equal

        def not_equal(ctx: EvalContext) -> Value:
            value = left(ctx)
            if isinstance(value, SCALAR):
                return _equal(value, text, True)
            for node in value:
                if node.text() != text:
                    return True
            return False

        return not_equal
    if op in _RELATIONAL and isinstance(right, Number):
        cmp = _RELATIONAL[op]
        number = right.value
        generic = _OPERATORS[op]

        def relational(ctx: EvalContext) -> Value:
            value = left(ctx)
            if isinstance(value, SCALAR):
                return generic(value, number)
            for node in value:
                if cmp(string_to_number(node.text()), number):
                    return True
            return False

        return relational
    return None


_StepFn = Callable[[EvalContext, Sequence[Node]], Sequence[Node]]
_REVERSE_AXES = frozenset({"parent", "ancestor", "ancestor-or-self", "preceding-sibling"})


def _children_named(nodes: Sequence[Node], name: str) -> Sequence[Node]:
    if len(nodes) == 1:
        return nodes[0].children_named(name)
    out: list[Node] = []
    for node in nodes:
        out.extend(node.children_named(name))
    return out


def _walk(ctx: EvalContext, nodes: Sequence[Node], steps: Sequence[_StepFn]) -> Sequence[Node]:
    for step in steps:
        if not nodes:
            return nodes
        nodes = step(ctx, nodes)
    return nodes


def _contextualise(root: Node, origin: Node, names: tuple[str, ...]) -> tuple[Node | None, int]:
    """The deepest ancestor-or-self of ``origin`` on the route ``names`` from the root."""
    chain: list[Node] = []
    node: Node | None = origin
    while node is not None:
        chain.append(node)
        node = node.parent
    if chain[-1] is not root:
        # The origin is in another tree (a secondary instance): plain walk from the root.
        return (root, 1) if root.name == names[0] else (None, 0)
    if root.name != names[0]:
        return None, 0
    depth = 1
    while depth < len(names) and depth < len(chain) and chain[-1 - depth].name == names[depth]:
        depth += 1
    return chain[-depth], depth


def _apply_predicate(ctx: EvalContext, nodes: Sequence[Node], pred: Compiled) -> Sequence[Node]:
    """Keep the nodes for which ``pred`` holds; a number means a position (XPath 1.0 §2.4)."""
    if not nodes:
        return nodes
    saved_node, saved_current = ctx.node, ctx.current
    saved_pos, saved_size = ctx._position, ctx._size
    if saved_current is None:
        ctx.current = saved_node
    size = len(nodes)
    out: list[Node] = []
    try:
        for index, node in enumerate(nodes, 1):
            ctx.node = node
            ctx._position = index
            ctx._size = size
            value = pred(ctx)
            if isinstance(value, float):
                if value == index:
                    out.append(node)
            elif to_boolean(value):
                out.append(node)
    finally:
        ctx.node, ctx.current = saved_node, saved_current
        ctx._position, ctx._size = saved_pos, saved_size
    return out


def _logical(op: str, operands: list[Compiled]) -> Compiled:
    # Short-circuit as XPath 1.0 §3.4 allows ("the right operand is not evaluated if…").
    if op == "and":
        if len(operands) == 2:
            a, b = operands
            return lambda ctx: to_boolean(a(ctx)) and to_boolean(b(ctx))
        return lambda ctx: all(to_boolean(o(ctx)) for o in operands)
    if len(operands) == 2:
        a, b = operands
        return lambda ctx: to_boolean(a(ctx)) or to_boolean(b(ctx))
    return lambda ctx: any(to_boolean(o(ctx)) for o in operands)


def _union(operands: list[Compiled]) -> Compiled:
    def union(ctx: EvalContext) -> Value:
        out: dict[int, Node] = {}
        for operand in operands:
            value = operand(ctx)
            if isinstance(value, SCALAR):
                continue
            for node in value:
                out.setdefault(id(node), node)
        return document_order(list(out.values()))

    return union
