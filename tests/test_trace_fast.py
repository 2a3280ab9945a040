"""Issue 14: long traces and steps laid out in bulk print what the row-by-row
code printed. Each fast path is checked against the plain code it replaced
(kept here as the oracle) or against Rich itself."""

from __future__ import annotations

import math
import random
import re
import unicodedata

import numpy as np
import pytest

from adcli import core, explain, render
from adcli.evaluate import _times_split, times
from adcli.formula import show
from adcli.graph import fmt_value
from adcli.ops import OPS
from adcli.parse import parse
from adcli.render import _RICH_ROWS, _rich_table, columns_text, table_text
from adcli.symbolic import local_partial_of


def _product(n: int) -> tuple[str, str]:
    return " * ".join(f"sin(x{i} + 1)" for i in range(n)), ",".join(f"x{i}={0.5 + i / n}" for i in range(n))


def _row_by_row(result, digits: int = 6) -> str:
    """The trace table as it was rendered before: one row at a time, through Rich."""
    rows = explain.trace_rows(result.problem.values, result.adjoints, result.tangents)
    headers = ["node", "definition", "value", explain.bar("v"), ""]
    body = [
        [r.name, r.definition, fmt_value(r.value, digits), *(fmt_value(a, digits) for a in r.adjoints or [])]
        + [f"= {r.output}" if r.output else ""]
        for r in rows
    ]
    return _rich_table(headers, body, {2, 3}, None, None)


def test_a_long_products_trace_is_the_row_by_row_rendering(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    n = _RICH_ROWS // 3 + 20  # 4 rows a factor: past the limit where Rich lays tables out itself
    expr, at = _product(n)
    result = core.run_trace(core.load(expr, at))
    text = render.trace_result_text(result, 6)
    assert len(text.splitlines()) > _RICH_ROWS
    assert text == _row_by_row(result)


def test_the_trace_table_is_the_trace_rows_column_by_column():
    expr, at = _product(30)
    result = core.run_trace(core.load(expr + " + where(x0 > 1, x1, -2*x2)", at), "forward", "x0,x3")
    values = result.problem.values
    table = explain.trace_table(values, result.adjoints, result.tangents)
    rows = explain.trace_rows(values, result.adjoints, result.tangents)
    g = values.graph
    assert [r.node for r in rows] == table.nodes == g.rows()
    for r in rows:
        assert r.definition == ("input" if g.nodes[r.node].is_input else g.definition(r.node))
        assert r.tangents == [0.0 if t[r.node] is None else t[r.node] for t in result.tangents]
    assert [[r.name, r.definition, r.value, r.output, *r.tangents] for r in rows] == [
        list(c) for c in zip(table.names, table.definitions, table.values, table.outputs, *table.tangents)
    ]


_CELLS = ["a", "bc", "x₁", "∂f/∂x", "1.5", "-2e-3", "漢字", "", " ", "sin(x1 + 1)", "ñ", "─", "v·w", "v̄3"]


def test_long_tables_given_by_columns_are_laid_out_as_rich_lays_them_out(monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")
    rng = random.Random(14)
    for trial in range(12):
        ncol = rng.randint(1, 5)
        # a column from a few kinds of cell: all ASCII, one cell a character (·, ─), or not
        pools = [rng.sample(_CELLS, rng.randint(1, 4)) for _ in range(ncol)]
        n = _RICH_ROWS + 1 + trial
        columns = [["".join(rng.choice(pool) for _ in range(rng.randint(0, 2))) for _ in range(n)] for pool in pools]
        headers = [rng.choice(["node", "v̄", "", "value", "漢"]) for _ in range(ncol)]
        right = {k for k in range(ncol) if rng.random() < 0.5}
        rows = [list(r) for r in zip(*columns)]
        expected = _rich_table(headers, rows, right, None, None)
        assert table_text(headers, rows, right) == expected
        assert columns_text(headers, columns, right) == expected


def test_wide_tables_are_laid_out_as_rich_lays_them_out():
    rng = random.Random(15)
    for nrow, ncol in ((30, 90), (60, 45), (3, 900)):  # past _RICH_CELLS with fewer than _RICH_ROWS rows
        pools = [rng.sample(_CELLS, rng.randint(1, 4)) for _ in range(ncol)]
        columns = [["".join(rng.choice(pool) for _ in range(rng.randint(0, 2))) for _ in range(nrow)] for pool in pools]
        headers = [rng.choice(["node", "v̄ (∂/∂x1)", "", "value", "漢"]) for _ in range(ncol)]
        right = {k for k in range(ncol) if rng.random() < 0.5}
        rows = [list(r) for r in zip(*columns)]
        assert nrow * ncol > render._RICH_CELLS
        expected = _rich_table(headers, rows, right, None, None)
        assert table_text(headers, rows, right, width=1 << 20) == expected


def test_a_long_table_too_wide_goes_vertical_as_before(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    columns = [[f"v{k}" for k in range(600)], [f"sin(v{k})·cos(v{k + 1})·exp(v{k})" for k in range(600)]]
    rows = [list(r) for r in zip(*columns)]
    assert columns_text(["node", "definition"], columns, set()) == table_text(["node", "definition"], rows, set())
    assert columns_text(["node", "definition"], columns, set()).startswith("node: v0\n  definition: sin(v0)")


def test_numbers_formatted_in_bulk_are_fmt_value():
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, 1.0, -1.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    values = [*special, *rng.normal(size=200), *(10.0 ** rng.uniform(-300, 300, 200)), *(-rng.random(50))]
    mixed = [np.float64(v) if k % 2 else float(v) for k, v in enumerate(values)]
    for digits in (1, 3, 6, 12, 17):
        assert explain.fmt_values(mixed, digits) == [fmt_value(v, digits) for v in mixed]
    odd = [np.float64(1.5), np.array(2.25), True, 7]  # not one plain float each: one at a time
    assert explain.fmt_values(odd, 6) == [fmt_value(v, 6) for v in odd]
    for bad in ([1.5, np.array([3.5])], [1.5, None]):  # what fmt_value refuses, refused alike
        with pytest.raises(TypeError):
            fmt_value(bad[1])
        with pytest.raises(TypeError):
            explain.fmt_values(bad, 6)
    assert explain.fmt_values([1, 2], 6) == ["1", "2"]
    assert explain.fmt_values([], 6) == []


def _expressions() -> list[str]:
    """Every function of the registry on names of each kind (plain, signed, in
    parentheses), with repeated arguments, plus the operators and where."""
    args = ["x", "y", "x", "-2", "z"]
    out = [
        "x*y + x*x - x/y + y/x + x^3 + x^y + (-x) + x^-1.5 + 2^x",
        "where(x > y, x*y, -y) + where(x <= 1, x, 2) + abs(x - y)",
        "t = x*y; u = t - 1; v = sin(u)*t; v + u",
        "max(x, y, 3) + min(x*y, -x) + clip(x, -1, 2) + hypot(x, y, x)",
        "polygamma(1, x) + log(x, 3) + atan2(y, x)",
    ]
    for name, op in OPS.items():
        if op.fn and not op.param and 1 <= op.arity <= 3:
            out.append(f"{name}({', '.join(args[: op.arity])})")
            out.append(f"{name}({', '.join(['x'] * op.arity)})")
            out.append(f"{name}({', '.join(['(x + y)'] + ['-2'] * (op.arity - 1))})")
    return out


def test_partial_formulas_from_templates_are_the_rule_read_on_the_names():
    explain._PARTIALS.clear()
    checked = 0
    for _ in range(2):  # the second time every formula comes from the templates
        for text in _expressions():
            try:
                g = parse(text)
            except Exception:  # a registry function whose arguments these are not
                continue
            for i, node in enumerate(g.nodes):
                if node.op.arity == 0 or node.op.d is None:
                    continue
                for k in range(node.op.arity):
                    assert explain.partial_formula(g, i, k) == show(local_partial_of(g, i, k), "display"), (text, i)
                    checked += 1
    assert checked > 400
    assert explain._PARTIALS


def _wrap_before(line: str, width: int = 80, indent: int = 8) -> list[str]:
    def cells(text):
        return sum(0 if unicodedata.combining(c) else 1 for c in text)

    if cells(line) <= width:
        return [line]
    main, sep, total = line.partition("   (")
    pieces = re.split(r"(?= = )", main) + (["   (" + total] if sep else [])
    out = [pieces[0]]
    for piece in pieces[1:]:
        if cells(out[-1]) + cells(piece) <= width:
            out[-1] += piece
        else:
            out.append(" " * indent + piece.lstrip())
    return out


def test_wrap_breaks_lines_as_before():
    rng = random.Random(5)
    words = ["v̄12", "∂v3/∂v1", " = ", " = = ", " · ", "0.123456", "cos(v2)", "   (", ")", "ẋ1", "漢", "a", "  ", "+="]
    for _ in range(3000):
        line = "".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        width = rng.choice([10, 40, 78, 80])
        assert explain.wrap(line, width) == _wrap_before(line, width), line
        assert explain.cells(line) == sum(0 if unicodedata.combining(c) else 1 for c in line)


def _letter_before(g, first: str = "y") -> str:
    names = {n.name for n in g.nodes if n.name is not None}
    names.update(g.input_names)
    other = "f" if first == "y" else "y"
    return next(
        c
        for c in (first, other, "out", "_" + first)
        if c not in names and not any(n.startswith(c) and n[len(c) :].isdigit() for n in names)
    )


@pytest.mark.parametrize(
    "text",
    ["x + 1", "y + f", "y1*y2 + f + out", "y٣ + f3", "yy٣ + f٣", "yy + fx", "y + y_1", "y + f + out1 + _f", "x, y"],
)
def test_the_output_letter_is_chosen_as_before(text):
    g = parse(text)

    def outcome(pick, first):
        try:
            return pick(g, first)
        except StopIteration:  # every candidate taken
            return None

    for first in ("y", "f"):
        assert outcome(explain.output_letter, first) == outcome(_letter_before, first)


def test_split_top_level_without_brackets_splits_as_before():
    rng = random.Random(9)
    for _ in range(2000):
        text = "".join(rng.choice(["x1=1", ",", "\n", " ", "y", "=", "2.5", ";", "", "[", ")"]) for _ in range(12))
        for sep in (",", ";", "\n"):
            for newlines in (False, True):
                assert core.split_top_level(text, sep, newlines) == core.split_nested(text, sep, newlines), text


@pytest.mark.parametrize("name", ["_", "a_b", "_x1", "é", "x-1", "1x", "x y", "a.b", "__", "x²"])
def test_input_names_in_at_are_checked_as_before(name):
    valid = (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c == "_" for c in name)
    if valid:
        assert name in core.parse_point(f"{name}=1")
    else:
        with pytest.raises(Exception, match=r"not a valid input name|no value|missing comma"):
            core.parse_point(f"{name}=1")


def test_a_finite_product_of_two_numbers_is_the_careful_product():
    rng = random.Random(2)
    pool = [0.0, -0.0, 1.0, -1.0, 2.5, 1e308, -1e308, 1e-320, math.inf, -math.inf, math.nan]
    for _ in range(500):
        a = np.float64(rng.choice(pool) if rng.random() < 0.5 else rng.uniform(-10, 10))
        p = rng.choice(pool) if rng.random() < 0.5 else rng.uniform(-10, 10)
        if a == 1.0 or p in (1.0, -1.0):
            continue  # times' own shortcuts (the seed, a partial of ±1), before any product
        for q in (p, np.float64(p)):
            with np.errstate(all="ignore"):  # as in a sweep
                got, want = times(a, q), _times_split(a, q)
            assert type(got) is type(want)
            if type(got) is np.float64:
                assert (got == want or (math.isnan(got) and math.isnan(want))) and math.copysign(
                    1, got
                ) == math.copysign(1, want)


def _atomic_before(formula: str) -> bool:
    if explain._SIMPLE.match(formula) or (explain._NUMBER.match(formula) and not formula.startswith("-")):
        return True
    m = re.match(r"^[^\W\d]\w*\(", formula)
    if not m or not formula.endswith(")"):
        return False
    depth = 0
    for k in range(m.end() - 1, len(formula)):
        depth += {"(": 1, ")": -1}.get(formula[k], 0)
        if depth == 0:
            return k == len(formula) - 1
    return False


def test_a_formula_is_atomic_as_before():
    rng = random.Random(11)
    parts = ["cos", "(", ")", "v1", "·", "2", "-", " ", "x", "sin(", "1.5", "e-3"]
    formulas = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 9))) for _ in range(5000)]
    for f in formulas + ["cos(v1)", "cos(v1)·sin(v2)", "f((a))", "f(a)(b)", "f(a))"]:
        assert explain._atomic(f) == _atomic_before(f), f
