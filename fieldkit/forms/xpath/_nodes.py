"""Axes, node tests and document order over the :class:`Node` protocol (XPath 1.0 §2.2–2.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._context import EvalContext, Node

__all__ = ["document_of", "document_order", "step_nodes"]


class _Document:
    """The document node above a root element (what ``/`` selects)."""

    __slots__ = ("_root",)

    def __init__(self, root: Node) -> None:
        self._root = root

    @property
    def name(self) -> str:
        return ""

    @property
    def parent(self) -> Node | None:
        return None

    def children(self) -> Sequence[Node]:
        return (self._root,)

    def children_named(self, name: str) -> Sequence[Node]:
        return (self._root,) if self._root.name == name else ()

    def text(self) -> str:
        return self._root.text()

    def attributes(self) -> Mapping[str, str]:
        return {}


class _Attribute:
    """An attribute as a node: ``@name`` selects these."""

    __slots__ = ("_name", "_owner", "_value")

    def __init__(self, owner: Node, name: str, value: str) -> None:
        self._owner = owner
        self._name = name
        self._value = value

    @property
    def name(self) -> str:
        return self._name

    @property
    def parent(self) -> Node | None:
        return self._owner

    def children(self) -> Sequence[Node]:
        return ()

    def children_named(self, name: str) -> Sequence[Node]:
        return ()

    def text(self) -> str:
        return self._value

    def attributes(self) -> Mapping[str, str]:
        return {}


def document_of(ctx: EvalContext, root: Node) -> Node:
    """The (cached) document node whose only child is ``root``."""
    doc = ctx._documents.get(id(root))
    if doc is None or doc.children()[0] is not root:
        doc = _Document(root)
        ctx._documents[id(root)] = doc
    return doc


def _matches(node: Node, test: str) -> bool:
    if test == "node()" or test == "*":
        return True
    if test.endswith(":*"):
        return node.name.startswith(test[:-1])
    return node.name == test


def _descendants(node: Node, out: list[Node]) -> None:
    # Iterative pre-order walk: deep trees must not recurse.
    stack = list(reversed(node.children()))
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.children()))


def step_nodes(ctx: EvalContext, node: Node, axis: str, test: str) -> list[Node]:
    """The nodes ``axis::test`` selects from ``node``, in axis order (reverse axes backwards)."""
    found: list[Node] = []
    if axis == "child":
        if test not in ("*", "node()") and not test.endswith(":*"):
            return list(node.children_named(test))
        found = list(node.children())
    elif axis == "self":
        found = [node]
    elif axis == "parent":
        parent = node.parent
        found = [parent] if parent is not None else []
    elif axis == "attribute":
        found = [_Attribute(node, k, v) for k, v in node.attributes().items()]
    elif axis in ("descendant", "descendant-or-self"):
        if axis == "descendant-or-self":
            found.append(node)
        _descendants(node, found)
    elif axis in ("ancestor", "ancestor-or-self"):
        current: Node | None = node if axis == "ancestor-or-self" else node.parent
        while current is not None:
            found.append(current)
            current = current.parent
    elif axis in ("following-sibling", "preceding-sibling"):
        parent = node.parent
        if parent is not None:
            siblings = list(parent.children())
            index = next(i for i, s in enumerate(siblings) if s is node)
            if axis == "following-sibling":
                found = siblings[index + 1 :]
            else:
                found = siblings[:index][::-1]
    return [n for n in found if _matches(n, test)]


def _order_key(node: Node) -> tuple[int, ...]:
    key: list[int] = []
    current = node
    parent = current.parent
    if isinstance(current, _Attribute) and parent is not None:
        names = list(parent.attributes())
        key.append(names.index(current.name))
        key.append(-1)
        current = parent
        parent = current.parent
    while parent is not None:
        siblings = parent.children()
        key.append(next(i for i, s in enumerate(siblings) if s is current))
        current = parent
        parent = current.parent
    key.reverse()
    return tuple(key)


def document_order(nodes: list[Node]) -> list[Node]:
    """Sort nodes of one tree into document order (ancestors before descendants)."""
    if len(nodes) < 2:
        return nodes
    return sorted(nodes, key=_order_key)
