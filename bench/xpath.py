"""Benchmark of the expression language: compile once, evaluate often.

Prints one JSON line: median microseconds to compile a typical calculation, to evaluate a
simple relevance (``${a} = 'yes' and ${b} > 3``), a reference inside a repeat instance, and a
sum over a repeat; and, as the baseline measured in the same run, the same relevance written
by hand in Python over the same nodes (the floor any interpreter sits on), with the ratio.

Run: .venv/bin/python bench/xpath.py
"""

from __future__ import annotations

import json
import statistics
import timeit
from collections.abc import Callable

from fieldkit.forms.xpath import EvalContext, StaticNode, compile_expression, parse

PATHS = {
    "a": "/data/a",
    "b": "/data/b",
    "c": "/data/c",
    "member": "/data/household/member",
    "age": "/data/household/member/age",
    "name": "/data/household/member/name",
}


def _tree() -> StaticNode:
    members = "".join(
        f"<member><name>n{i}</name><age>{i % 90}</age></member>" for i in range(1, 51)
    )
    return StaticNode.from_xml(
        f"<data><a>yes</a><b>5</b><c/><household>{members}</household></data>"
    )


def _median_us(fn: Callable[[], object], *, number: int) -> float:
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    """Measure and print one JSON line."""
    root = _tree()
    c_node = root.children_named("c")[0]
    member = root.children_named("household")[0].children_named("member")[24]
    name_node = member.children_named("name")[0]

    calc = "if(${b} > 3, concat(${a}, '-', ${b} * 2), round(${b} div 3, 2))"

    def compile_fresh() -> object:
        parse.cache_clear()  # type: ignore[attr-defined]  # measure parsing too
        return compile_expression(calc, owner="/data/c", resolve_name=PATHS.get)

    compile_us = _median_us(compile_fresh, number=300)

    relevance = compile_expression(
        "${a} = 'yes' and ${b} > 3", owner="/data/c", resolve_name=PATHS.get
    )
    ctx = EvalContext(c_node)
    relevance_us = _median_us(lambda: relevance.evaluate(ctx), number=20_000)

    a_node = root.children_named("a")[0]
    b_node = root.children_named("b")[0]

    def by_hand() -> bool:
        b_text = b_node.text().strip()
        return a_node.text() == "yes" and (float(b_text) if b_text else float("nan")) > 3

    baseline_us = _median_us(by_hand, number=20_000)

    in_repeat = compile_expression(
        "${age} >= 18 and ${name} != ''",
        owner="/data/household/member/name",
        resolve_name=PATHS.get,
    )
    repeat_ctx = EvalContext(name_node)
    in_repeat_us = _median_us(lambda: in_repeat.evaluate(repeat_ctx), number=20_000)

    total = compile_expression("sum(${age})", owner="/data/c", resolve_name=PATHS.get)
    sum_us = _median_us(lambda: total.evaluate(ctx), number=5_000)

    print(
        json.dumps(
            {
                "compile_calculation_us": round(compile_us, 2),
                "eval_simple_relevance_us": round(relevance_us, 3),
                "eval_in_repeat_relevance_us": round(in_repeat_us, 3),
                "eval_sum_over_50_instances_us": round(sum_us, 2),
                "baseline_hand_written_python_us": round(baseline_us, 3),
                "relevance_ratio_to_baseline": round(relevance_us / baseline_us, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
