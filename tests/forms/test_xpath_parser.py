"""Tokenizer and parser: precedence, errors with columns, depth bound, hypothesis fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.errors import ExpressionError
from fieldkit.forms.xpath import (
    MAX_DEPTH,
    EvalContext,
    StaticNode,
    compile_expression,
    parse,
    to_output_text,
    unparse,
)
from fieldkit.forms.xpath._ast import Binary, Call, Filter, Literal, Negate, Number, Path, Ref, Step


def test_precedence_and_left_associativity() -> None:
    assert parse("1 - 2 - 3") == Binary(("-", "-"), (Number(1), Number(2), Number(3)))
    assert parse("1 - (2 - 3)") == Binary(
        ("-",), (Number(1), Binary(("-",), (Number(2), Number(3))))
    )
    # * binds tighter than +, + tighter than <, < tighter than =, = than and, and than or.
    tree = parse("a or b and c = d < e + f * g")
    assert isinstance(tree, Binary) and tree.ops == ("or",)
    right = tree.operands[1]
    assert isinstance(right, Binary) and right.ops == ("and",)
    assert unparse(tree) == "a or b and c = d < e + f * g"


def test_unary_minus_and_union() -> None:
    assert parse("-${a}") == Negate(Ref("a"))
    assert parse("- - 1") == Negate(Negate(Number(1)))
    # XPath 1.0 [27]: unary minus applies to a whole union.
    assert parse("-a | b") == Negate(Binary(("|",), (_child("a"), _child("b"))))


def _child(name: str) -> Path:
    return Path(False, (Step("child", name),))


def test_paths_and_abbreviations() -> None:
    assert parse(".") == Path(False, (Step("self", "node()"),))
    assert parse("../x") == Path(False, (Step("parent", "node()"), Step("child", "x")))
    assert parse("/data/a") == Path(True, (Step("child", "data"), Step("child", "a")))
    assert parse("/") == Path(True, ())
    assert parse("@id") == Path(False, (Step("attribute", "id"),))
    assert parse("//x") == Path(True, (Step("descendant-or-self", "node()"), Step("child", "x")))
    tree = parse("instance('c')/root/item[name = current()/../x]/label")
    assert isinstance(tree, Path) and tree.base == Call("instance", (Literal("c"),))
    assert [s.test for s in tree.steps] == ["root", "item", "label"]
    assert parse("/data/rep[2]/x").steps[1].predicates == (Number(2),)  # type: ignore[union-attr]
    assert parse("(a | b)[1]") == Filter(Binary(("|",), (_child("a"), _child("b"))), (Number(1),))


def test_operator_names_versus_element_names() -> None:
    # XPath 1.0 §3.7: after an operand, "div" is an operator; at the start it is a name.
    assert parse("div div div") == Binary(("div",), (_child("div"), _child("div")))
    assert parse("* * *") == Binary(("*",), (_child("*"), _child("*")))
    assert parse("jr:choice-name(${a}, '${a}')") == Call(
        "jr:choice-name", (Ref("a"), Literal("${a}"))
    )


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("${a} = ", 8),
        ("(1 + 2", 7),
        ("1 +* 2", 6),  # "*" after an operator is a name test (XPath 1.0 §3.7)
        ("'open", 1),
        ("${a", 1),
        ("a ! b", 3),
        ("$x + 1", 1),
        ("1 2", 3),
        ("foo(1,)", 7),
        ("", 1),
        ("a[1", 4),
        ("text()", 1),
        ("following::x", 1),
    ],
)
def test_syntax_errors_carry_the_column(text: str, column: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.offset == column
    assert f"character {column}" in str(info.value)


def test_deep_nesting_is_an_expression_error_not_a_recursion_error() -> None:
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("(" * 10_000 + "1" + ")" * 10_000)
    with pytest.raises(ExpressionError):
        parse("-" * 10_000 + "1")
    with pytest.raises(ExpressionError):
        parse("f(" * 10_000)
    # Just within the bound parses, compiles and evaluates.
    text = "(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    expr = compile_expression(text, owner=None, resolve_name=lambda n: None)
    assert expr.evaluate_number(EvalContext(StaticNode("data"))) == 1


def test_long_operator_chains_do_not_nest() -> None:
    text = " + ".join(["1"] * 20_000)
    expr = compile_expression(text, owner=None, resolve_name=lambda n: None)
    assert to_output_text(expr.evaluate(EvalContext(StaticNode("data")))) == "20000"


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("()[]{}$'\"/.@*:,|=!<>+- abdiv0123456789xyz_")), max_size=60
    )
)
def test_arbitrary_text_only_raises_expression_error(text: str) -> None:
    try:
        expr = compile_expression(text, owner="/data/x", resolve_name=lambda n: f"/data/{n}")
    except ExpressionError:
        return
    root = StaticNode.from_xml("<data><x>1</x><a>2</a></data>")
    expr.evaluate(EvalContext(root.children()[0]))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_unicode_only_raises_expression_error(text: str) -> None:
    try:
        parse(text)
    except ExpressionError:
        pass


# -- round trips of generated valid expressions ---------------------------------------------

_names = st.sampled_from(["a", "b", "age", "x-y", "jr:z"])
_atoms = st.one_of(
    st.builds(Literal, st.text(alphabet="ab 'c", max_size=5)),
    st.builds(
        Number,
        st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: float(round(f, 3))),
    ),
    st.builds(Ref, st.sampled_from(["a", "b", "age"])),
    st.builds(lambda n: Path(False, (Step("child", n),)), _names),
    st.just(Path(False, (Step("parent", "node()"), Step("child", "b")))),
    st.just(Path(True, (Step("child", "data"), Step("child", "a")))),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    ops = st.sampled_from(
        [("or",), ("and",), ("=", "!="), ("<", ">="), ("+", "-"), ("*", "div", "mod")]
    )

    def binary(level_ops: tuple[str, ...], operands: list) -> Binary:  # type: ignore[type-arg]
        return Binary(
            tuple(level_ops[i % len(level_ops)] for i in range(len(operands) - 1)), tuple(operands)
        )

    return st.one_of(
        st.builds(binary, ops, st.lists(children, min_size=2, max_size=3)),
        st.builds(Negate, children),
        st.builds(lambda args: Call("concat", tuple(args)), st.lists(children, max_size=3)),
        st.builds(lambda c, t, e: Call("if", (c, t, e)), children, children, children),
    )


_exprs = st.recursive(_atoms, lambda children: _extend(children), max_leaves=12)


def _normal(tree: object) -> object:
    """Flatten same-level chains on the left, as the parser does."""
    if isinstance(tree, Binary):
        operands = [_normal(o) for o in tree.operands]
        first = operands[0]
        if isinstance(first, Binary) and first.level == tree.level:
            return Binary(first.ops + tree.ops, first.operands + tuple(operands[1:]))
        return Binary(tree.ops, tuple(operands))  # type: ignore[arg-type]
    if isinstance(tree, Negate):
        return Negate(_normal(tree.operand))  # type: ignore[arg-type]
    if isinstance(tree, Call):
        return Call(tree.name, tuple(_normal(a) for a in tree.args))  # type: ignore[misc]
    return tree


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_generated_trees_round_trip_and_evaluate_the_same(tree: object) -> None:
    text = unparse(tree)  # type: ignore[arg-type]
    parsed = parse(text)
    assert parsed == _normal(tree)
    assert parse(unparse(parsed)) == parsed
    paths = {"a": "/data/a", "b": "/data/b", "age": "/data/age"}
    first = compile_expression(text, owner="/data/a", resolve_name=paths.get)
    second = compile_expression(unparse(parsed), owner="/data/a", resolve_name=paths.get)
    root = StaticNode.from_xml("<data><a>3</a><b>x</b><age>2020-01-02</age></data>")
    ctx = EvalContext(root.children()[0])
    assert to_output_text(first.evaluate(ctx)) == to_output_text(second.evaluate(ctx))
