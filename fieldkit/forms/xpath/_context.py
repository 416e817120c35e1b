"""What an expression is evaluated against: the Node protocol and the EvalContext.

The forms engine owns the instance tree; the evaluator only walks it through :class:`Node`, so
any tree (the FormSession's own, an XML secondary instance, the tests' :class:`StaticNode`)
can be used as long as it answers these few questions.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from xml.etree import ElementTree

__all__ = ["ChoiceLabel", "EvalContext", "Node", "StaticNode"]


class Node(Protocol):
    """An element of an instance tree, as the evaluator sees it.

    - ``name``: the element name (``age``; a repeat instance is named after its repeat).
    - ``parent``: the parent element; ``None`` for the root element (``/data`` or a secondary
      instance's ``root``).
    - ``children()``: the child elements in document order.
    - ``children_named(name)``: the child elements called ``name``, in document order (a repeat's
      instances come back in their 1-based order). Called on every path step: keep it cheap.
    - ``text()``: the string-value: for a leaf, the text a submission holds — and ``""`` while
      the node is NOT relevant (ODK: a non-relevant node reads as empty). For a group or repeat
      instance, XPath 1.0 wants the concatenation of its descendants' text; ``""`` is fine too.
    - ``attributes()``: attribute name → value (``{}`` for ODK's question nodes).
    """

    @property
    def name(self) -> str:
        """The element name."""
        ...

    @property
    def parent(self) -> Node | None:
        """The parent element, or None for a root element."""
        ...

    def children(self) -> Sequence[Node]:
        """Child elements in document order."""
        ...

    def children_named(self, name: str) -> Sequence[Node]:
        """Child elements called ``name`` in document order."""
        ...

    def text(self) -> str:
        """The string-value; ``""`` for a non-relevant node."""
        ...

    def attributes(self) -> Mapping[str, str]:
        """Attribute name → value."""
        ...


ChoiceLabel = Callable[[str, str], "str | None"]
"""``choice_label(template_path, value)``: the label of choice ``value`` of the select question at
``template_path`` (e.g. ``/data/household/member/sex``) in the current language, or None."""


def _system_now() -> datetime:
    return datetime.now().astimezone()


class EvalContext:
    """Everything an evaluation may read besides the expression itself.

    - ``node``: the context node (``.``); for a question's relevance, constraint or calculation
      this is that question's own node in the instance (``/data/household/member[2]/age``).
    - ``current``: what ``current()`` returns; defaults to ``node`` (for a choice_filter pass the
      question's node as ``current`` and each candidate item as ``node``).
    - ``root``: the main instance's root element (``/data``); found from ``node`` when omitted.
    - ``instances``: secondary instance id → its root element (for ``instance('id')/root/item``
      the mapping holds the ``root`` element); also what ``pulldata('id', …)`` reads.
    - ``now``: the one clock (``today()``, ``now()``); an aware datetime so that ``now()``
      carries the offset ODK writes.
    - ``random``: the random source for ``random()``, ``uuid()`` and ``randomize``.
    - ``choice_label``: the hook behind ``jr:choice-name``.
    - ``language``: the current form language, for hooks that need it.

    A context may be reused for many evaluations: set ``node`` (and ``current``) between them.
    """

    __slots__ = (
        "_documents",
        "_position",
        "_size",
        "choice_label",
        "current",
        "instances",
        "language",
        "node",
        "now",
        "random",
        "root",
    )

    def __init__(
        self,
        node: Node,
        *,
        current: Node | None = None,
        root: Node | None = None,
        instances: Mapping[str, Node] | None = None,
        now: Callable[[], datetime] = _system_now,
        random: _random.Random | None = None,
        choice_label: ChoiceLabel | None = None,
        language: str | None = None,
    ) -> None:
        self.node: Node = node
        self.current: Node | None = current
        if root is None:
            root = node
            while root.parent is not None:
                root = root.parent
        self.root: Node = root
        self.instances: Mapping[str, Node] = instances if instances is not None else {}
        self.now: Callable[[], datetime] = now
        self.random: _random.Random = random if random is not None else _random.Random()  # noqa: S311 - not crypto
        self.choice_label: ChoiceLabel | None = choice_label
        self.language: str | None = language
        self._documents: dict[int, Node] = {}
        # The context position and size (XPath 1.0 §1) while a predicate is evaluated.
        self._position = 1
        self._size = 1


class StaticNode:
    """A plain in-memory element: for secondary instances, tests and tools.

    ``StaticNode.from_xml('<root><item><name>a</name></item></root>')`` builds a tree from XML
    text (namespaces dropped; a leaf's text kept as is, whitespace between elements dropped).
    """

    __slots__ = ("_attributes", "_by_name", "_children", "_text", "name", "parent")

    def __init__(
        self,
        name: str,
        text: str = "",
        children: Sequence[StaticNode] = (),
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.parent: StaticNode | None = None
        self._text = text
        self._children: list[StaticNode] = []
        self._by_name: dict[str, list[StaticNode]] = {}
        self._attributes: dict[str, str] = dict(attributes or {})
        for child in children:
            self.append(child)

    def append(self, child: StaticNode) -> StaticNode:
        """Add ``child`` as the last child; returns it."""
        child.parent = self
        self._children.append(child)
        self._by_name.setdefault(child.name, []).append(child)
        return child

    def set_text(self, text: str) -> None:
        """Replace this element's own text."""
        self._text = text

    def children(self) -> Sequence[StaticNode]:
        """Child elements in document order."""
        return self._children

    def children_named(self, name: str) -> Sequence[StaticNode]:
        """Child elements called ``name``."""
        return self._by_name.get(name, ())

    def text(self) -> str:
        """Own text, or for an element with children the concatenation of theirs."""
        if self._children:
            return "".join(child.text() for child in self._children)
        return self._text

    def attributes(self) -> Mapping[str, str]:
        """Attribute name → value."""
        return self._attributes

    def __repr__(self) -> str:
        return f"StaticNode({self.name!r})"

    @classmethod
    def from_xml(cls, text: str) -> StaticNode:
        """Build a tree from XML text (element names lose their namespace)."""
        return cls._from_element(ElementTree.fromstring(text))  # noqa: S314 - form's own XML

    @classmethod
    def _from_element(cls, element: ElementTree.Element) -> StaticNode:
        def local(tag: str) -> str:
            return tag.rsplit("}", 1)[-1]

        # A leaf keeps its text exactly (answers may start or end with spaces); text between
        # child elements is layout and is dropped.
        text = element.text or ""
        node = cls(
            local(element.tag),
            text if len(element) == 0 else "",
            attributes={local(k): v for k, v in element.attrib.items()},
        )
        for child in element:
            node.append(cls._from_element(child))
        return node
