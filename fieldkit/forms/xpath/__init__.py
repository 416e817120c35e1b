"""fieldkit's expression language: the XPath 1.0 subset XLSForm uses, with ODK's functions.

Compile once at load, evaluate many times::

    expr = compile_expression(
        "${age} >= 18 and selected(${consent}, 'yes')",
        owner="/data/household/member/name",   # the node the expression belongs to
        resolve_name=form_paths.get,            # "age" -> "/data/household/member/age"
    )
    expr.references            # frozenset({"/data/household/member/age", "/data/consent"})
    ctx = EvalContext(member_2_name_node, now=clock, random=rng, choice_label=labels)
    expr.evaluate_boolean(ctx)
    to_output_text(calc.evaluate(ctx))   # the text a submission holds ("" for NaN)

The evaluator walks the caller's instance tree through the small :class:`Node` protocol
(``name``, ``parent``, ``children()``, ``children_named(name)``, ``text()`` — ``""`` while
non-relevant — and ``attributes()``); :class:`StaticNode` is a ready implementation for
secondary instances and tests. Semantics follow ODK (XForms spec, JavaRosa, Web Forms), see
docs/forms.md "Expressions". Nothing is ever passed to Python's ``eval``.
"""

from __future__ import annotations

from ._ast import Expr, unparse
from ._compiler import Expression, compile_expression
from ._context import ChoiceLabel, EvalContext, Node, StaticNode
from ._functions import FUNCTIONS
from ._parser import MAX_DEPTH, parse
from ._values import Value, format_number, to_boolean, to_number, to_output_text, to_string

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "ChoiceLabel",
    "EvalContext",
    "Expr",
    "Expression",
    "Node",
    "StaticNode",
    "Value",
    "compile_expression",
    "format_number",
    "parse",
    "to_boolean",
    "to_number",
    "to_output_text",
    "to_string",
    "unparse",
]
