"""Results and errors -> text, Rich renderables and JSON. The only module that
knows how things look; the CLI and the REPL both print through it."""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .errors import AdcliError, Warning_
from .explain import fmt_values, output_names
from .graph import fmt_value
from .sparsity import summary as sparsity_summary
from .vectors import by_input, written_inputs

# -- JSON ------------------------------------------------------------------------


def jsonable(v: Any) -> Any:
    """numpy values -> JSON types; non-finite floats -> "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    return v


def dumps(doc: Any) -> str:
    """One JSON document; escaped to ASCII (the same document) when stdout cannot show it."""
    from .stdio import can_show

    return json.dumps(jsonable(doc), ensure_ascii=not can_show(sys.stdout), allow_nan=False)


def warnings_json(ws: list[Warning_]) -> list[str]:
    return [w.message for w in ws]


def eval_body(result) -> dict:
    values = result.value
    return {"value": values[0] if len(values) == 1 else values}


def grad_body(result) -> dict:
    names = result.problem.inputs
    return {
        "mode": result.mode,
        "value": result.value,
        "gradient": by_input(names, result.wrt, result.gradient),
        "sweeps": result.sweeps,
    }


def error_json(err: AdcliError) -> dict:
    doc: dict[str, Any] = {"kind": err.kind, "message": err.message}
    lc = err.line_col()
    if lc is not None:
        doc["line"], doc["column"] = lc
    if err.label:
        doc["source"] = err.label
    if err.hint:
        doc["hint"] = err.hint
    for k, v in err.extra.items():
        if v is not None:
            doc[k] = v
    return {"error": doc}


# -- text ------------------------------------------------------------------------


def eval_text(result, digits: int) -> str:
    return "\n".join(fmt_value(v, digits) for v in result.value)


def grad_lines(result, digits: int) -> list[tuple[str, str]]:
    """The value and the partials, named after the output (f; y if an input is called f)."""
    names = result.problem.inputs
    f = output_names(result.problem.graph)[0]
    rows = [(f, fmt_value(result.value, digits))]
    pairs = list(zip(result.wrt, result.gradient))
    numbers = fmt_values([g for _, g in pairs], digits)  # every partial formatted at once
    rows += [(f"∂{f}/∂{names[k]}", num) for (k, _), num in zip(pairs, numbers)]
    return rows


_INT_PART = re.compile(r"[-+]?(\d+|inf|NaN)")


def _int_width(num: str) -> int:
    m = _INT_PART.match(num)
    return len(m.group(0)) if m else 0


def aligned(rows: list[tuple[str, str]]) -> str:
    """Two columns: names, then numbers lined up on their decimal points."""
    if not rows:
        return ""
    w1 = max(len(a) for a, _ in rows)
    ints = [_int_width(b) for _, b in rows]  # each number's integer part, measured once
    wi = max(ints)
    return "\n".join(f"{a:<{w1}}  {' ' * (wi - n)}{b}".rstrip() for (a, b), n in zip(rows, ints))


def grad_text(result, digits: int) -> str:
    return aligned(grad_lines(result, digits))


_WINDOW = 72


def _visible(ch: str) -> str:
    if ch == "\t":
        return " "
    return ch if ch.isprintable() else "\ufffd"


def source_excerpt(source: str, span: tuple[int, int]) -> list[str]:
    """The line holding span[0], and a caret line under the span (clipped to a window)."""
    start = min(span[0], len(source))
    ls = source.rfind("\n", 0, start) + 1
    le = source.find("\n", start)
    le = len(source) if le < 0 else le
    col = start - ls
    end = min(max(span[1], start + 1), le + 1) - ls
    line = source[ls:le]
    lo = 0
    if len(line) > _WINDOW:
        lo = max(0, min(col - _WINDOW // 2, len(line) - _WINDOW))
    shown = "".join(_visible(c) for c in line[lo : lo + _WINDOW])
    prefix = "…" if lo > 0 else ""
    suffix = "…" if lo + _WINDOW < len(line) else ""
    caret_from = col - lo + len(prefix)
    width = max(1, min(end - col, _WINDOW - (col - lo)))
    return [f"  {prefix}{shown}{suffix}", "  " + " " * caret_from + "^" * width]


def _location(source: str, span: tuple[int, int], label: str | None) -> list[str]:
    """`` --> expression, column 5`` and the source line with a caret under ``span``."""
    lc = AdcliError("", "", source, span).line_col()
    where = label or "expression"
    first = re.fullmatch(r"(.*), line (\d+)", where)
    if lc is not None and first and "\n" in source:
        # a logical line continued over several (an open bracket in a session file):
        # the line of the file, not "stdin, line 6, line 2"
        where = f"{first.group(1)}, line {int(first.group(2)) + lc[0] - 1}, column {lc[1]}"
    elif lc is not None and (lc[0] > 1 or "\n" in source):
        where += f", line {lc[0]}, column {lc[1]}"
    elif lc is not None:
        where += f", column {lc[1]}"
    return [f" --> {where}", *source_excerpt(source, span)]


def error_text(err: AdcliError) -> str:
    lines = [f"error: {err.message}"]
    if err.source is not None and err.span is not None:
        lines += _location(err.source, err.span, err.label)
    if err.hint:
        lines.append(f"hint: {err.hint}")
    return "\n".join(lines)


def warning_text(w: Warning_) -> str:
    """A warning, pointing into the expression where it happened, as errors do."""
    if w.source is None or w.span is None:
        return f"warning: {w.message}"
    return "\n".join([f"warning: {w.message}", *_location(w.source, w.span, None)])


# -- explanations: trace tables and steps -----------------------------------------


def table_text(
    headers: list[str],
    rows: Sequence[Sequence[str]],
    right: set[int],
    width: int | None = None,
    styles: dict[int, dict[str, str]] | None = None,
) -> str:
    """A Rich table rendered to text, for stable, pipeable output. A table wider
    than ``width`` (default: the terminal, 80 when piped) goes vertical, one
    block of "header: value" lines per row, so that no number or name is cut.
    ``styles`` colours cells by column and text ({5: {"FAIL": "red"}}) when
    standard output is a colour terminal."""
    from .stdio import for_stdout

    headers = [for_stdout(h) for h in headers]
    rows = _for_stdout_rows(rows)
    width = width or _width()
    system = colour_system() if styles else None
    # Rich lays a table out in time that grows faster than its rows (minutes at
    # 10^5 rows); a long one (or a wide one: a forward trace has a column per
    # input) is laid out the same way by _plain_table, a column at a time.
    if len(rows) <= _RICH_ROWS and len(rows) * len(headers) <= _RICH_CELLS:
        plain = _rich_table(headers, rows, right, None, None)
        widest = _widest(plain)
    else:
        plain, widest = _plain_layout(headers, rows, right)
    if widest > width:
        return _vertical(headers, rows, styles if system else None)
    if system is None:
        return plain
    if len(rows) > _RICH_ROWS:
        return _plain_table(headers, rows, right, styles)
    return _rich_table(headers, rows, right, styles, system)


def _for_stdout_rows(rows: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    """Every cell as :func:`adcli.stdio.for_stdout` gives it: when standard output
    shows all the cells' text at once (ASCII, or its encoding holds it), as they are."""
    from .stdio import can_show, for_stdout

    text = "".join(["".join(r) for r in rows])
    if text.isascii() or can_show(sys.stdout, text):
        return rows
    return [[for_stdout(c) for c in r] for r in rows]


def _widest(text: str) -> int:
    """The most terminal cells a line of ``text`` takes."""
    from rich.cells import cell_len

    return max(
        (len(line) if line.isascii() and line.isprintable() else cell_len(line) for line in text.splitlines()),
        default=0,
    )


def _rich_table(headers, rows, right, styles, system: Any) -> str:
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="")
    for k, h in enumerate(headers):
        table.add_column(h, justify="right" if k in right else "left", no_wrap=True)
    for r in rows:
        table.add_row(*(Text(c, style=(styles or {}).get(k, {}).get(c, "")) for k, c in enumerate(r)))
    buf = io.StringIO()
    Console(
        file=buf,
        width=1 << 20,  # laid out at its natural width; table_text decides what fits
        color_system=system,
        no_color=system is None,
        highlight=False,
        force_terminal=system is not None,
        soft_wrap=False,
    ).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


_RICH_ROWS = 500  # tables longer than this are laid out without Rich
_RICH_CELLS = 5 * _RICH_ROWS  # and tables of more cells than this, when they have no styles


def _plain_table(
    headers: list[str],
    rows: Sequence[Sequence[str]],
    right: set[int],
    styles: dict[int, dict[str, str]] | None = None,
) -> str:
    """What :func:`_rich_table` prints without styles (box SIMPLE_HEAD, no edge):
    cells padded to their column's width, columns three spaces apart, a rule of
    '─' under the header, trailing spaces stripped; linear in the table's size.
    tests/test_deep_fast.py checks it against Rich on random tables. ``styles``
    paints the cells they name (each distinct cell painted once)."""
    return _plain_layout(headers, rows, right, styles)[0]


def _plain_layout(
    headers: list[str],
    rows: Sequence[Sequence[str]],
    right: set[int],
    styles: dict[int, dict[str, str]] | None = None,
) -> tuple[str, int]:
    """:func:`_plain_table`'s text, and the most terminal cells a line of it
    takes (without styles)."""
    ncol = len(headers)
    if rows and ncol and all(len(r) == ncol for r in rows):
        return _columns_layout(headers, list(zip(*rows)), right, styles)
    if not rows:
        return _columns_layout(headers, [() for _ in headers], right, styles)
    # rows of other lengths than the header (a shorter one ends early): row by row, where
    # a row longer than the header fails on widths[k], as it always did
    columns = [[r[k] if k < len(r) else "" for r in rows] for k in range(ncol)]
    widths, _, pad = _measure(headers, columns, right, styles)
    body = ["   ".join(pad(k, c, widths[k]) for k, c in enumerate(r)).rstrip() for r in rows]
    text = "\n".join([*_head_and_rule(headers, widths, pad), *body])
    return text, _widest(text)


def _columns_layout(
    headers: list[str],
    columns: Sequence[Sequence[str]],
    right: set[int],
    styles: dict[int, dict[str, str]] | None = None,
    texts: Sequence[str | None] | None = None,
) -> tuple[str, int]:
    """The plain layout of a table given column by column (each as long as the
    others): a column whose every character takes one cell is measured and
    padded in bulk, only the others cell by cell. ``texts``: each column's cells
    joined, where the caller has them."""
    widths, simple, pad = _measure(headers, columns, right, styles, texts)
    padded = []
    for k, col in enumerate(columns):
        w = widths[k]
        if not simple[k] or (styles and styles.get(k)):
            padded.append([pad(k, c, w) for c in col])
        elif k in right:
            padded.append(list(map(str.rjust, map(str.rstrip, col), itertools.repeat(w))))
        else:
            padded.append(list(map(str.ljust, col, itertools.repeat(w))))
    body = list(map(str.rstrip, map("   ".join, zip(*padded)))) if padded else []
    head, rule = _head_and_rule(headers, widths, pad)
    text = "\n".join([head, rule, *body])
    if all(simple) and not styles:  # a body line takes a cell a character
        from rich.cells import cell_len

        return text, max(cell_len(head), cell_len(rule), max(map(len, body), default=0))
    return text, _widest(text)


def _measure(
    headers: list[str],
    columns: Sequence[Sequence[str]],
    right: set[int],
    styles: dict[int, dict[str, str]] | None,
    texts: Sequence[str | None] | None = None,
) -> tuple[list[int], list[bool], Callable[[int, str, int], str]]:
    """Column widths, which columns take one cell a character, and the padding of one cell."""
    from rich.cells import cell_len as rich_len

    def cell_len(c: str) -> int:  # printable ASCII is one cell a character (Rich's own shortcut)
        return len(c) if c.isascii() and c.isprintable() else rich_len(c)

    def one_cell_each(text: str) -> bool:  # every character of text one cell wide, as Rich counts
        if text.isascii():
            return text.isprintable()
        return all(c not in "\u200d\ufe0f" and rich_len(c) == 1 for c in set(text))

    painted: dict[tuple[str, str], str] = {}

    def show(k: int, c: str) -> str:
        style = styles.get(k, {}).get(c) if styles else None
        if style is None:
            return c
        if (c, style) not in painted:
            painted[c, style] = paint(c, style)
        return painted[c, style]

    def pad(k: int, c: str, w: int) -> str:
        if k in right:  # Rich strips a right-justified cell's trailing spaces, then pads it
            c = c.rstrip()
            return " " * (w - cell_len(c)) + show(k, c)
        return show(k, c) + " " * (w - cell_len(c))

    widths = [cell_len(h) for h in headers]
    simple = []
    for k, col in enumerate(columns):
        text = texts[k] if texts is not None else None
        simple.append(one_cell_each("".join(col) if text is None else text))
        n = max(map(len, col), default=0) if simple[k] else max(map(cell_len, col), default=0)
        if n > widths[k]:
            widths[k] = n
    return widths, simple, pad


def _head_and_rule(headers: list[str], widths: list[int], pad: Callable[[int, str, int], str]) -> tuple[str, str]:
    head = "   ".join(pad(k, h, widths[k]) for k, h in enumerate(headers)).rstrip()
    return head, "─" * max(1, sum(widths) + 3 * (len(widths) - 1))


def columns_text(headers: list[str], columns: list[list[str]], right: set[int]) -> str:
    """:func:`table_text` (no styles) of a table given column by column, as long
    tables are built: laid out without turning it into rows and back."""
    from .stdio import can_show, for_stdout

    if not columns or (len(columns[0]) <= _RICH_ROWS and len(columns[0]) * len(columns) <= _RICH_CELLS):
        return table_text(headers, list(zip(*columns)), right)
    headers = [for_stdout(h) for h in headers]
    columns = list(columns)
    texts: list[str | None] = []  # each column's text, read once
    for k, c in enumerate(columns):
        t = "".join(c)
        if t.isascii() or can_show(sys.stdout, t):
            texts.append(t)
        else:
            columns[k] = [for_stdout(x) for x in c]
            texts.append(None)
    plain, widest = _columns_layout(headers, columns, right, texts=texts)
    if widest > _width():
        return _vertical(headers, list(zip(*columns)), None)
    return plain


def _vertical(headers: list[str], rows: Sequence[Sequence[str]], styles: dict[int, dict[str, str]] | None) -> str:
    """One block per row: its first cell, then "header: value" for the others."""
    blocks = []
    for r in rows:
        lines = [r[0] if not headers[0] else f"{headers[0]}: {r[0]}"]
        for k in range(1, len(r)):
            if r[k] == "":
                continue
            cell = r[k] if styles is None or r[k] not in styles.get(k, {}) else paint(r[k], styles[k][r[k]])
            lines.append(f"  {headers[k]}: {cell}" if headers[k] else f"  {cell}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def colour_system() -> Any:
    """Rich's colour system for standard output: None when it is not a terminal
    or NO_COLOR is set; FORCE_COLOR turns colour on even in a pipe."""
    import os

    if os.environ.get("NO_COLOR"):
        return None
    from rich.console import Console

    console = Console(file=sys.stdout)
    return console.color_system if console.is_terminal else None


def paint(text: str, style: str) -> str:
    """``text`` in a Rich style when standard output shows colour, else as it is."""
    system: Any = colour_system()
    if system is None:
        return text
    import io

    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system=system, width=1 << 20, highlight=False).print(
        Text(text, style=style), end=""
    )
    return buf.getvalue()


def _width() -> int:
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80


def trace_text(
    table, digits: int, adjoint_headers: list[str] | None = None, tangent_headers: list[str] | None = None
) -> str:
    """The trace table (an :class:`adcli.explain.TraceTable`): node, definition,
    value, and the adjoint or tangent column(s); each column's numbers formatted
    at once."""
    from .explain import bar, dot

    adjoints = (table.adjoints or []) if table.nodes else []  # (no rows: no columns of them)
    tangents = (table.tangents or []) if table.nodes else []
    n_adj, n_tan = len(adjoints), len(tangents)
    headers = ["node", "definition", "value"]
    headers += adjoint_headers or [bar("v")] * n_adj
    headers += tangent_headers or [dot("v")] * n_tan
    headers.append("")
    columns = [table.names, table.definitions, fmt_values(table.values, digits)]
    columns += [fmt_values(a, digits) for a in adjoints]
    columns += [fmt_values(t, digits) for t in tangents]
    columns.append([f"= {o}" if o else "" for o in table.outputs])
    return columns_text(headers, columns, right=set(range(2, len(headers) - 1)))


def trace_json(rows) -> dict:
    nodes = []
    for r in rows:
        d: dict[str, Any] = {"name": r.name, "op": r.op, "args": r.args, "definition": r.definition, "value": r.value}
        if r.output:
            d["output"] = r.output
        if r.adjoints is not None:
            d["adjoint"] = r.adjoints[0] if len(r.adjoints) == 1 else r.adjoints
        if r.tangents is not None:
            d["tangent"] = r.tangents[0] if len(r.tangents) == 1 else r.tangents
        nodes.append(d)
    return {"nodes": nodes}


def adjoint_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    g = values.graph
    out = []
    for s in steps:
        d: dict[str, Any] = {"target": g.nodes[s.target].name}
        if s.source < 0:
            d.update(seed=True, total=s.total)
        else:
            d.update(
                source=g.nodes[s.source].name,
                formula=partial_formula(g, s.source, s.arg),
                adjoint=s.adjoint,
                partial=s.partial,
                contribution=s.contribution,
                total=s.total,
            )
        out.append(d)
    return out


def tangent_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    g = values.graph
    return [
        {
            "node": g.nodes[s.node].name,
            "terms": [
                {"arg": g.nodes[a].name, "formula": partial_formula(g, s.node, k), "partial": p, "tangent": t}
                for k, a, p, t in s.terms
            ],
            "tangent": s.total,
        }
        for s in steps
    ]


def grad_columns(result) -> tuple:
    return _one(result.adjoints), result.tangents, None, _tangent_headers(result)


def grad_steps(result, digits: int) -> str:
    """The accumulation steps, ending in the gradient's entries."""
    from . import explain

    values = result.problem.values
    names = result.problem.inputs
    y = explain.output_letter(values.graph)
    if result.mode == "reverse":
        lines = explain.adjoint_lines(values, result.adjoint_steps or [], digits)
        lines += [
            f"∂{y}/∂{names[k]} = {explain.bar(names[k])} = {fmt_value(gk, digits)}"
            for k, gk in zip(result.wrt, result.gradient)
        ]
        return "\n".join(lines)
    finals = [
        f"  ∂{y}/∂{names[k]} = {explain.dot(y)} = {fmt_value(result.gradient[j], digits)}"
        for j, k in enumerate(result.wrt)
    ]
    return _forward_sweeps(values, result.wrt, result.tangent_steps or [], digits, finals)


def grad_steps_doc(result) -> Any:
    values = result.problem.values
    if result.mode == "reverse":
        return adjoint_steps_json(values, result.adjoint_steps or [])
    return [tangent_steps_json(values, st) for st in result.tangent_steps or []]


def _one(adjoints):
    return None if adjoints is None else [adjoints]


def _tangent_headers(result) -> list[str] | None:
    from .explain import dot

    if result.tangents is None:
        return None
    names = result.problem.inputs
    return [f"{dot('v')} (∂/∂{names[k]})" for k in result.wrt]


def _adjoint_headers(result) -> list[str] | None:
    from .explain import bar, output_labels

    if result.adjoints is None or len(result.adjoints) == 1:
        return None
    labels = output_labels(result.problem.graph)
    return [f"{bar('v')} ({labels.get(o, '')})" for o in result.problem.graph.outputs]


def eval_columns(result) -> tuple:
    return None, None, None, None


def eval_steps(result, digits: int) -> str:
    from . import explain

    return "\n".join(explain.value_lines(result.problem.values, digits))


def eval_steps_doc(result) -> Any:
    """eval --steps --json: the forward pass is the trace's values."""
    return _trace_doc(result, eval_columns(result))


def trace_columns(result) -> tuple:
    return result.adjoints, result.tangents, _adjoint_headers(result), _tangent_headers(result)


def trace_result_text(result, digits: int) -> str:
    """The trace command's table: values, and adjoints or tangents."""
    return _trace_table(result, trace_columns(result), digits)


def trace_steps(result, digits: int) -> str:
    """trace --steps: each sweep's steps, after the table."""
    from . import explain

    values = result.problem.values
    g = values.graph
    if result.adjoint_steps is None:
        return _forward_sweeps(values, result.wrt, result.tangent_steps or [], digits)
    labels = explain.output_labels(g)
    blocks = []
    for o, st in zip(g.outputs, result.adjoint_steps):
        head = f"sweep for {labels.get(o, 'y')}:" if len(g.outputs) > 1 else None
        lines = explain.adjoint_lines(values, st, digits)
        blocks.append("\n".join(([head] if head else []) + lines))
    return "\n\n".join(blocks)


def trace_body(result) -> dict:
    return {"mode": result.mode, **_trace_doc(result, trace_columns(result))}


def trace_steps_doc(result) -> Any:
    values = result.problem.values
    if result.adjoint_steps is None:
        return [tangent_steps_json(values, st) for st in result.tangent_steps or []]
    doc = [adjoint_steps_json(values, st) for st in result.adjoint_steps]
    return doc[0] if len(doc) == 1 else doc


# -- many points ------------------------------------------------------------------------


def points_rows(kind: str, result) -> tuple[dict, list[tuple[str, Any]]]:
    """A result over many points as one JSON Lines document (per-point numbers as
    arrays) and as named CSV columns: what :mod:`adcli.tabular` writes, row by row."""
    from .tabular import csv_columns

    p = result.problem
    names = p.inputs
    point = dict(zip(names, p.point))  # flat: the CSV columns x[1], x[2]
    grouped = by_input(names, list(range(len(names))), list(p.point))  # JSON: "x": [..], as --json at one point
    if kind in ("eval", "grad"):
        values = result.value if kind == "eval" else [result.value]
        doc: dict[str, Any] = {"point": grouped, "value": values[0] if len(values) == 1 else list(values)}
        cols = list(point.items())
        cols += [("value" if len(values) == 1 else f"value{k + 1}", v) for k, v in enumerate(values)]
        if kind == "grad":
            doc["gradient"] = by_input(names, result.wrt, result.gradient)
            cols += [(f"d_{names[k]}", g_) for k, g_ in zip(result.wrt, result.gradient)]
        return doc, cols
    rest = view(result).body(result)
    return {"point": grouped, **rest}, csv_columns({"point": point, **rest}, _points_count(p), names)


def _points_count(problem) -> int:
    return len(problem.point[0]) if problem.point else 1


# -- the DAG -------------------------------------------------------------------------------

_MAX_DEPTH = 40


def _node_label(drawing, i: int, digits: int) -> str:
    g = drawing.graph
    node = g.nodes[i]
    text = node.name if node.is_input else f"{node.name} = {g.definition(i)}"
    if drawing.values is not None:
        text += f"  [{fmt_value(drawing.values.vals[i], digits)}"
        if drawing.adjoints is not None:
            a = drawing.adjoints[i]
            text += f", v̄ {fmt_value(0.0 if a is None else a, digits)}"
        text += "]"
    return text


def graph_text(drawing, digits: int) -> str:
    """A tree from each output; a shared node is drawn once, later mentions say so."""
    from .explain import output_labels

    g = drawing.graph
    labels = output_labels(g)
    seen: set[int] = set()
    lines: list[str] = []
    for o in dict.fromkeys(g.outputs):
        stack = [(o, "", "", 0)]
        while stack:
            i, lead, child_lead, depth = stack.pop()
            node = g.nodes[i]
            text = _node_label(drawing, i, digits)
            if i == o:
                text = f"{labels.get(o, 'y')}: {text}"
            kids = [a for a in dict.fromkeys(node.args) if not g.is_const(a)]
            if i in seen and kids:
                lines.append(f"{lead}{node.name} (shown above)")
                continue
            seen.add(i)
            lines.append(lead + text)
            if depth >= _MAX_DEPTH and kids:
                lines.append(f"{child_lead}└── … ({len(g.nodes)} nodes in all; deeper levels not drawn)")
                continue
            for k in range(len(kids) - 1, -1, -1):
                last = k == len(kids) - 1
                stack.append(
                    (
                        kids[k],
                        child_lead + ("└── " if last else "├── "),
                        child_lead + ("    " if last else "│   "),
                        depth + 1,
                    )
                )
    return "\n".join(lines)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def graph_dot(drawing, digits: int) -> str:
    g = drawing.graph
    from .explain import output_labels

    labels = output_labels(g)
    out = ["digraph adcli {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    for i in g.rows():
        shape = ", shape=ellipse" if g.nodes[i].is_input else ""
        extra = ", peripheries=2" if i in labels else ""
        out.append(f'  n{i} [label="{_esc(_node_label(drawing, i, digits))}"{shape}{extra}];')
    for i in g.rows():
        for a in dict.fromkeys(g.nodes[i].args):
            if not g.is_const(a):
                out.append(f"  n{a} -> n{i};")
    out.append("}")
    return "\n".join(out)


def graph_mermaid(drawing, digits: int) -> str:
    g = drawing.graph
    out = ["graph BT"]
    for i in g.rows():
        label = _node_label(drawing, i, digits).replace('"', "#quot;")
        out.append(f'  n{i}["{label}"]')
    for i in g.rows():
        for a in dict.fromkeys(g.nodes[i].args):
            if not g.is_const(a):
                out.append(f"  n{a} --> n{i}")
    return "\n".join(out)


def graph_output(drawing, fmt: str, digits: int) -> str:
    """``fmt`` is one of commands.GRAPH_FORMATS (checked there)."""
    return {"text": graph_text, "dot": graph_dot, "mermaid": graph_mermaid}[fmt](drawing, digits)


# -- jvp, vjp, jacobian, hessian, hvp, implicit -------------------------------------------


def matrix_text(
    corner: str, col_labels: list[str], row_labels: list[str], cells: list[list[str]], width: int | None = None
) -> str:
    """A labelled table of numbers, each column aligned on the decimal points. Columns
    that do not fit ``width`` (default: the terminal, 80 when piped) continue in a
    further block below, with the row labels repeated."""
    from .stdio import for_stdout

    corner, col_labels, row_labels = (
        for_stdout(corner),
        [for_stdout(c) for c in col_labels],
        [for_stdout(r) for r in row_labels],
    )
    width = width or _width()
    lw = max([len(corner)] + [len(r) for r in row_labels])
    cols = []
    for j, head in enumerate(col_labels):
        entries = [row[j] for row in cells]
        wi = max([_int_width(s) for s in entries] or [0])
        wf = max([len(s) - _int_width(s) for s in entries] or [0])
        shown = [" " * (wi - _int_width(s)) + s + " " * (wf - (len(s) - _int_width(s))) for s in entries]
        w = max(len(head), wi + wf)
        cols.append((head.rjust(w), [s.rjust(w) for s in shown], w))
    blocks: list[Any] = []
    current: list[Any] = []
    used = lw
    for col in cols:
        if current and used + 3 + col[2] > width:
            blocks.append(current)
            current, used = [], lw
        current.append(col)
        used += 3 + col[2]
    blocks.append(current)
    out = []
    for block in blocks:
        lines = [corner.ljust(lw) + "".join("   " + h for h, _, _ in block)]
        for i, label in enumerate(row_labels):
            lines.append(label.ljust(lw) + "".join("   " + shown[i] for _, shown, _ in block))
        out.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(out)


def _value_doc(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def _column(label: str, entries: list[Any], digits: int) -> tuple[str, list[str]]:
    return label, [fmt_value(e, digits) for e in entries]


def _table(corner: str, row_labels: list[str], columns: list[tuple[str, list[str]]]) -> str:
    cells = [[col[1][i] for col in columns] for i in range(len(row_labels))]
    return matrix_text(corner, [c[0] for c in columns], row_labels, cells)


def _sweeps(k: int, what: str) -> str:
    return f"{k} {what} sweep{'s' if k != 1 else ''}"


# jvp ---------------------------------------------------------------------------


def jvp_body(result) -> dict:
    names = result.problem.inputs
    return {
        "wrt": [names[k] for k in result.wrt],
        "direction": list(result.direction),
        "value": _value_doc(result.value),
        "jvp": list(result.jvp),
        "sweeps": result.sweeps,
        "mode": "forward",
    }


def jvp_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    return "\n\n".join(
        [
            _table("", [names[k] for k in result.wrt], [_column("v", result.direction, digits)]),
            _table("", outs, [_column("value", result.value, digits), _column("J·v", result.jvp, digits)]),
            _sweeps(result.sweeps, "forward"),
        ]
    )


# vjp ---------------------------------------------------------------------------


def vjp_body(result) -> dict:
    names = result.problem.inputs
    return {
        "cotangent": list(result.cotangent),
        "value": _value_doc(result.value),
        "vjp": by_input(names, result.wrt, result.vjp),
        "sweeps": result.sweeps,
        "mode": "reverse",
    }


def vjp_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    return "\n\n".join(
        [
            _table("", outs, [_column("value", result.value, digits), _column("u", result.cotangent, digits)]),
            _table("", [names[k] for k in result.wrt], [_column("uᵀ·J", result.vjp, digits)]),
            _sweeps(result.sweeps, "reverse"),
        ]
    )


# jacobian ------------------------------------------------------------------------


def jacobian_body(result) -> dict:
    names = result.problem.inputs
    return {
        "wrt": [names[k] for k in result.wrt],
        "value": list(result.value),
        "jacobian": [list(row) for row in result.jacobian],
        "sweeps": result.sweeps,
        "mode": result.mode,
        "requested_mode": result.requested,
        "reason": result.reason,
        **_colours_json(result),
    }


def _colours_json(result) -> dict:
    """Compressed by a colouring: how many sweeps it took and how many it saved."""
    if getattr(result, "colours", None) is None:
        return {}
    return {"colours": result.colours, "uncompressed_sweeps": result.uncompressed}


def jacobian_sweeps_line(result) -> str:
    per = "input" if result.mode == "forward" else "output"
    if result.colours is not None:
        m, n = len(result.value), len(result.wrt)
        line = f"{result.mode} mode: {result.sweeps} sweep{'s' if result.sweeps != 1 else ''}, one per colour of {per}s"
        line += "\n" + sparsity_summary("Jacobian", (m, n), result.colours, result.uncompressed)
        return f"{line}\nauto: {result.reason}" if result.requested == "auto" else line
    line = f"{result.mode} mode: {result.sweeps} sweep{'s' if result.sweeps != 1 else ''}, one per {per}"
    return f"{line}\nauto: {result.reason}" if result.requested == "auto" else line


def jacobian_text(result, digits: int) -> str:
    names = result.problem.inputs
    outs = output_names(result.problem.graph)
    cols = [_column(f"∂/∂{names[k]}", [row[j] for row in result.jacobian], digits) for j, k in enumerate(result.wrt)]
    table = _table("", outs, cols) if cols else "(no inputs to differentiate with respect to)"
    return table + "\n\n" + jacobian_sweeps_line(result)


# sparse results as coordinates (--format coo) ----------------------------------------


def _dense_coordinates(result, row_labels: list[str]) -> tuple:
    names = result.problem.inputs
    a = np.asarray(result.matrix, dtype=np.float64)
    r, k = np.nonzero(a)
    return (
        r.tolist(),
        k.tolist(),
        a[r, k].tolist(),
        (a.shape[0], a.shape[1]),
        row_labels,
        [names[j] for j in result.wrt],
    )


def jacobian_coordinates(result) -> tuple:
    """The non-zero entries at one point, row-major, with row and column labels."""
    return _dense_coordinates(result, output_names(result.problem.graph))


def hessian_coordinates(result) -> tuple:
    names = result.problem.inputs
    cols = [names[k] for k in result.wrt]
    c = result.coo
    if c is None:
        return _dense_coordinates(result, cols)
    return c.rows.tolist(), c.cols.tolist(), c.values.tolist(), c.shape, cols, cols


def coo_json(result) -> dict:
    """--format coo --json: a Jacobian's or Hessian's non-zeros (its View's coordinates)."""
    rows, cols, values, shape, row_labels, col_labels = view(result).coordinates(result)  # type: ignore[misc]
    doc = {
        "rows": rows,
        "cols": cols,
        "values": values,
        "shape": list(shape),
        "row_names": row_labels,
        "col_names": col_labels,
        "sweeps": result.sweeps,
        **_colours_json(result),
        "warnings": warnings_json(result.warnings),
    }
    return doc


def coo_text(result, digits: int) -> str:
    v = view(result)
    rows, cols, values, shape, row_labels, col_labels = v.coordinates(result)  # type: ignore[misc]
    lines = [f"{shape[0]}×{shape[1]} {v.matrix}, {len(values)} non-zero entr{'y' if len(values) == 1 else 'ies'}"]
    lines += [f"{row_labels[r]} {col_labels[c]} {fmt_value(x, digits)}" for r, c, x in zip(rows, cols, values)]
    if result.colours is not None:
        lines.append(sparsity_summary(v.matrix, shape, result.colours, result.uncompressed))
    return "\n".join(lines)


# hessian and hvp --------------------------------------------------------------------


def hessian_body(result) -> dict:
    names = result.problem.inputs
    return {
        "wrt": [names[k] for k in result.wrt],
        "value": result.value,
        "gradient": by_input(names, result.wrt, result.gradient),
        "hessian": [list(row) for row in result.hessian],
        "sweeps": result.sweeps,
        **_colours_json(result),
        "mode": "forward-over-reverse",
    }


def hessian_text(result, digits: int) -> str:
    names = result.problem.inputs
    f = output_names(result.problem.graph)[0]
    labels = [f"∂{names[k]}" for k in result.wrt]
    cols = [_column(labels[j], [row[j] for row in result.hessian], digits) for j in range(len(labels))]
    parts = [grad_text(result, digits)]
    if cols:
        parts.append(_table(f"∂²{f}", labels, cols))
    n = result.sweeps
    if result.colours is not None:
        k = len(result.wrt)
        parts.append(
            f"forward-over-reverse: {n} sweep{'s' if n != 1 else ''}, one Hessian-vector product per colour\n"
            + sparsity_summary("Hessian", (k, k), result.colours, result.uncompressed)
        )
        return "\n\n".join(parts)
    parts.append(f"forward-over-reverse: {n} sweep{'s' if n != 1 else ''}, one Hessian-vector product per input")
    return "\n\n".join(parts)


def hvp_body(result) -> dict:
    names = result.problem.inputs
    return {
        "wrt": [names[k] for k in result.wrt],
        "direction": list(result.direction),
        "value": result.value,
        "gradient": by_input(names, result.wrt, result.gradient),
        "hvp": by_input(names, result.wrt, result.hvp),
        "sweeps": result.sweeps,
        "mode": "forward-over-reverse",
    }


def hvp_text(result, digits: int) -> str:
    names = result.problem.inputs
    return "\n\n".join(
        [
            grad_text(result, digits),
            _table(
                "",
                [names[k] for k in result.wrt],
                [_column("v", result.direction, digits), _column("H·v", result.hvp, digits)],
            ),
            "forward-over-reverse: 1 sweep (a reverse sweep on dual numbers); H is not formed",
        ]
    )


# implicit ------------------------------------------------------------------------------


def implicit_body(result) -> dict:
    names = result.problem.inputs
    ys = [names[k] for k in result.solve]
    xs = [names[k] for k in result.wrt]
    doc = {
        "solve": ys,
        "wrt": xs,
        "value": _value_doc(result.value),
        "F_y": [list(r) for r in result.F_y],
        "F_x": [list(r) for r in result.F_x],
        "derivative": {y: {x: result.derivative[i][j] for j, x in enumerate(xs)} for i, y in enumerate(ys)},
        "newton": None,
    }
    if result.newton is not None:
        doc["newton"] = {
            "start": dict(zip(ys, result.newton.start)),
            "iterations": result.newton.iterations,
            "residual": result.newton.residual,
        }
    return doc


def implicit_text(result, digits: int) -> str:
    names = result.problem.inputs
    ys = [names[k] for k in result.solve]
    xs = [names[k] for k in result.wrt]
    m = len(ys)
    parts = []
    if result.newton is not None:
        nw = result.newton
        solved = ", ".join(f"{y} = {fmt_value(result.problem.point[k], digits)}" for y, k in zip(ys, result.solve))
        start = ", ".join(f"{y} = {fmt_value(s, digits)}" for y, s in zip(ys, nw.start))
        parts.append(
            f"Newton: {solved} after {nw.iterations} iteration{'s' if nw.iterations != 1 else ''} "
            f"from {start} (max |F| = {fmt_value(nw.residual, 3)})"
        )
    if m == 1:
        y = ys[0]
        rows = [("F", fmt_value(result.value[0], digits))]
        rows += [(f"F_{x}", fmt_value(result.F_x[0][j], digits)) for j, x in enumerate(xs)]
        rows.append((f"F_{y}", fmt_value(result.F_y[0][0], digits)))
        parts.append(aligned(rows))
        d = "d" if len(xs) == 1 else "∂"
        if xs:
            parts.append(
                "\n".join(
                    f"{d}{y}/{d}{x} = -F_{x}/F_{y} = {fmt_value(result.derivative[0][j], digits)}"
                    for j, x in enumerate(xs)
                )
            )
    else:
        eqs = [f"F{i + 1}" for i in range(m)]
        parts.append(_table("", eqs, [_column("value", result.value, digits)]))
        parts.append(
            _table("F_y", eqs, [_column(f"∂/∂{y}", [r[j] for r in result.F_y], digits) for j, y in enumerate(ys)])
        )
        if xs:
            parts.append(
                _table("F_x", eqs, [_column(f"∂/∂{x}", [r[j] for r in result.F_x], digits) for j, x in enumerate(xs)])
            )
            ylabel, xlabel = f"({', '.join(ys)})", (xs[0] if len(xs) == 1 else f"({', '.join(xs)})")
            parts.append(
                f"d{ylabel}/d{xlabel} = -F_y⁻¹ F_x:\n"
                + _table(
                    "", ys, [_column(f"∂/∂{x}", [r[j] for r in result.derivative], digits) for j, x in enumerate(xs)]
                )
            )
    if not xs:
        parts.append("(no other inputs: nothing to differentiate with respect to)")
    return "\n\n".join(parts)


# explanations (--trace, --steps) for jvp, vjp, jacobian, hvp and hessian --------------------


def _full_direction(result) -> list[Any]:
    """The seed tangent of every input (None where it is not differentiated)."""
    full: list[Any] = [None] * len(result.problem.inputs)
    for k, d in zip(result.wrt, result.direction):
        full[k] = d
    return full


def _forward_sweeps(values, wrt: list[int], steps_per_sweep, digits: int, finals: list[str] | None = None) -> str:
    """One block per forward sweep (sweep j seeds input wrt[j]), then its last line."""
    n = len(values.graph.inputs)
    blocks = []
    for j, (k, st) in enumerate(zip(wrt, steps_per_sweep)):
        direction = [1.0 if q == k else None for q in range(n)]
        block = _forward_block(values, direction, st, digits, f"sweep {j + 1} of {len(wrt)}: ")
        blocks.append(block + ("\n" + finals[j] if finals else ""))
    return "\n\n".join(blocks)


def _forward_block(values, direction: list[Any], steps, digits: int, head: str = "") -> str:
    from . import explain

    lines = [head + explain.seed_line(values.graph, direction, digits)]
    return "\n".join(lines + ["  " + b for b in explain.tangent_lines(values, steps, digits)])


def _live_steps(values, steps) -> list:
    """Adjoint steps without those into constants (a constant's adjoint is never used)."""
    return [s for s in steps or [] if not values.graph.is_const(s.target)]


def _reverse_block(values, steps, digits: int, head: str = "") -> str:
    from . import explain

    lines = explain.adjoint_lines(values, _live_steps(values, steps), digits)
    return "\n".join(([head] if head else []) + lines)


def jvp_columns(result) -> tuple:
    from .explain import dot

    return None, [result.tangents], None, [dot("v")]


def jvp_steps(result, digits: int) -> str:
    return _forward_block(result.problem.values, _full_direction(result), result.tangent_steps or [], digits)


def jvp_steps_doc(result) -> Any:
    return tangent_steps_json(result.problem.values, result.tangent_steps or [])


def vjp_columns(result) -> tuple:
    return [result.adjoints], None, None, None


def vjp_steps(result, digits: int) -> str:
    return _reverse_block(result.problem.values, result.adjoint_steps or [], digits)


def vjp_steps_doc(result) -> Any:
    values = result.problem.values
    return adjoint_steps_json(values, _live_steps(values, result.adjoint_steps))


def _explain_output_names(g) -> list[str]:
    """The outputs as the trace and the steps call them (y1, y2...)."""
    from .explain import output_labels

    labels = output_labels(g)
    return [labels.get(o, "y") for o in g.outputs]


def _jacobian_headers(result) -> tuple[list[str] | None, list[str] | None]:
    from .explain import bar, dot

    names = result.problem.inputs
    if result.mode == "forward":
        return None, [f"{dot('v')} (∂/∂{names[k]})" for k in result.wrt]
    return [f"{bar('v')} ({o})" for o in _explain_output_names(result.problem.graph)], None


def jacobian_columns(result) -> tuple:
    return result.adjoints, result.tangents, *_jacobian_headers(result)


def jacobian_steps(result, digits: int) -> str:
    values = result.problem.values
    if result.mode == "forward":
        return _forward_sweeps(values, result.wrt, result.tangent_steps or [], digits)
    outs = _explain_output_names(result.problem.graph)
    return "\n\n".join(
        _reverse_block(values, st, digits, f"sweep {i + 1} of {result.sweeps}, for {outs[i]}:")
        for i, st in enumerate(result.adjoint_steps or [])
    )


def jacobian_steps_doc(result) -> Any:
    values = result.problem.values
    if result.mode == "forward":
        return [tangent_steps_json(values, st) for st in result.tangent_steps or []]
    return [adjoint_steps_json(values, _live_steps(values, st)) for st in result.adjoint_steps or []]


# forward-over-reverse: every number is a dual number a + bε -------------------------------


def _scalar(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return a.reshape(-1)[0] if a.size == 1 else a


def _parts(x: Any) -> tuple[Any, Any]:
    from .dual import primal, tangent

    if x is None:
        return 0.0, 0.0
    return _scalar(primal(x)), _scalar(tangent(x))


def dual_text(x: Any, digits: int) -> str:
    """``(a + bε)``: a value and its tangent along the seeded direction."""
    a, b = _parts(x)
    bs = fmt_value(b, digits)
    sign, bs = ("-", bs[1:]) if bs.startswith("-") else ("+", bs)
    return f"({fmt_value(a, digits)} {sign} {bs}ε)"


def _dual_rows(values, adjoints) -> list[list[Any]]:
    """Per node: name, definition, value, tangent, adjoint, tangent of the adjoint."""
    from . import explain

    g = values.graph
    outs = explain.output_labels(g)
    rows = []
    for i in g.rows():
        node = g.nodes[i]
        v, vt = _parts(values.vals[i])
        a, at = _parts(adjoints[i])
        rows.append([node.name or "", "input" if node.is_input else g.definition(i), v, vt, a, at, outs.get(i, "")])
    return rows


def dual_trace_text(values, adjoints, digits: int) -> str:
    from .explain import bar, dot

    headers = ["node", "definition", "value", dot("v"), bar("v"), dot(bar("v")), ""]
    body = [
        [r[0], r[1]] + [fmt_value(x, digits) for x in r[2:6]] + [f"= {r[6]}" if r[6] else ""]
        for r in _dual_rows(values, adjoints)
    ]
    return table_text(headers, body, right={2, 3, 4, 5})


def dual_trace_json(values, adjoints) -> dict:
    return {
        "nodes": [
            {
                "name": r[0],
                "definition": r[1],
                "value": r[2],
                "tangent": r[3],
                "adjoint": r[4],
                "adjoint_tangent": r[5],
                **({"output": r[6]} if r[6] else {}),
            }
            for r in _dual_rows(values, adjoints)
        ]
    }


def dual_step_lines(values, steps, digits: int) -> list[str]:
    """The value pass and the adjoint steps of one forward-over-reverse sweep, on dual numbers."""
    from . import explain

    g = values.graph
    outs = explain.output_labels(g)
    lines = []
    for i in g.rows():
        node = g.nodes[i]
        name = node.name or ""
        if node.is_input:
            lines.append(f"{name} = {dual_text(values.vals[i], digits)}")
        else:
            lines.append(f"{name} = {g.definition(i)} = {dual_text(values.vals[i], digits)}")
    current = None
    for s in steps:
        if g.is_const(s.target):
            continue  # a constant's adjoint is never used
        t = g.nodes[s.target].name or ""
        if s.source < 0:
            lines.append(
                f"{explain.bar(outs.get(s.target, 'y'))} = {explain.bar(t)} = {dual_text(s.total, digits)}   (seed)"
            )
            continue
        src = g.nodes[s.source].name or ""
        if s.source != current:
            current = s.source
            lines.append(f"{src} = {g.definition(s.source)}")
        formula = explain.partial_formula(g, s.source, s.arg)
        lines.append(
            f"  {explain.bar(t)} += {explain.bar(src)} · ∂{src}/∂{t} = {explain.bar(src)} · "
            f"{explain._factor(formula)} = {dual_text(s.adjoint, digits)} · {dual_text(s.partial, digits)}"
            f" = {dual_text(s.contribution, digits)}   ({explain.bar(t)} = {dual_text(s.total, digits)})"
        )
    return lines


def dual_steps_json(values, steps) -> list[dict]:
    from .explain import partial_formula

    def d(x):
        a, b = _parts(x)
        return {"value": a, "tangent": b}

    g = values.graph
    out = []
    for s in steps:
        if g.is_const(s.target):
            continue
        if s.source < 0:
            out.append({"target": g.nodes[s.target].name, "seed": True, "total": d(s.total)})
        else:
            out.append(
                {
                    "target": g.nodes[s.target].name,
                    "source": g.nodes[s.source].name,
                    "formula": partial_formula(g, s.source, s.arg),
                    "adjoint": d(s.adjoint),
                    "partial": d(s.partial),
                    "contribution": d(s.contribution),
                    "total": d(s.total),
                }
            )
    return out


def hvp_trace(result, digits: int) -> str:
    return dual_trace_text(result.dual_values, result.adjoints, digits)


def hvp_steps(result, digits: int) -> str:
    return "\n".join(dual_step_lines(result.dual_values, result.adjoint_steps or [], digits))


def hvp_trace_doc(result) -> Any:
    return dual_trace_json(result.dual_values, result.adjoints)


def hvp_steps_doc(result) -> Any:
    return dual_steps_json(result.dual_values, result.adjoint_steps or [])


def hessian_blocks(result, digits: int, trace: bool, steps: bool) -> list[str]:
    """One block per sweep (a column of H): its dual-number trace and/or steps."""
    names = result.problem.inputs
    blocks = []
    for j, k in enumerate(result.wrt):
        head = f"sweep {j + 1} of {result.sweeps}: direction e_{names[k]} (column ∂/∂{names[k]} of H)"
        block = [head]
        values, adjoints = result.sweep_values[j], result.sweep_adjoints[j]
        if trace:
            block.append(dual_trace_text(values, adjoints, digits))
        if steps and result.sweep_steps is not None:
            block.append("\n".join(dual_step_lines(values, result.sweep_steps[j], digits)))
        blocks.append("\n".join(block))
    return blocks


def hessian_trace_doc(result) -> Any:
    return [dual_trace_json(v, a) for v, a in zip(result.sweep_values, result.sweep_adjoints)]


def hessian_steps_doc(result) -> Any:
    return [dual_steps_json(v, st) for v, st in zip(result.sweep_values, result.sweep_steps or [])]


# -- one renderer for every result at a point, by its type ---------------------------------


class View(NamedTuple):
    """How one result type looks: only what differs between results. The header
    every document shares (inputs, point ... warnings) and the order of the parts
    are :func:`result_json`'s and :func:`result_text`'s. (A NamedTuple: a dataclass
    would cost a millisecond of every start.)"""

    body: Callable[[Any], dict]  # its JSON keys, between the shared header and the warnings
    text: Callable[[Any, int], str]  # its text (digits)
    # --trace: the trace table's extra columns, (adjoints, tangents, their headers) ...
    columns: Callable[[Any], tuple] | None = None
    # ... or a table of its own (on dual numbers): text (digits) and JSON
    trace: Callable[[Any, int], str] | None = None
    trace_doc: Callable[[Any], Any] | None = None
    # --steps: text (digits) and JSON
    steps: Callable[[Any, int], str] | None = None
    steps_doc: Callable[[Any], Any] | None = None
    steps_key: str = "steps"  # the JSON key of steps_doc
    # the whole --trace/--steps text (digits, trace, steps), when it is not a trace then steps
    blocks: Callable[[Any, int, bool, bool], list[str]] | None = None
    inline: bool = False  # the explanation is part of the result (trace): after its text, before the warnings
    # --format coo: the non-zeros (rows, cols, values, shape, row and column labels) of the matrix named
    coordinates: Callable[[Any], tuple] | None = None
    matrix: str = ""


_VIEWS: dict[type, View] = {}


def view(result) -> View:
    """The :class:`View` of ``result``'s type."""
    v = _VIEWS.get(type(result))
    if v is None:
        _register_views()
        v = _VIEWS[type(result)]
    return v


def _register_views() -> None:
    """Key the table by the result classes. Those of :mod:`adcli.derivatives` only once
    it is loaded (a result of its kind exists only then): eval and grad never import it."""
    from . import core

    _VIEWS[core.EvalResult] = View(
        eval_body, eval_text, eval_columns, steps=eval_steps, steps_doc=eval_steps_doc, steps_key="trace"
    )
    _VIEWS[core.GradResult] = View(grad_body, grad_text, grad_columns, steps=grad_steps, steps_doc=grad_steps_doc)
    _VIEWS[core.TraceResult] = View(
        trace_body, trace_result_text, steps=trace_steps, steps_doc=trace_steps_doc, inline=True
    )
    d = sys.modules.get(__package__ + ".derivatives")
    if d is None:
        return
    _VIEWS[d.JvpResult] = View(jvp_body, jvp_text, jvp_columns, steps=jvp_steps, steps_doc=jvp_steps_doc)
    _VIEWS[d.VjpResult] = View(vjp_body, vjp_text, vjp_columns, steps=vjp_steps, steps_doc=vjp_steps_doc)
    _VIEWS[d.JacobianResult] = View(
        jacobian_body,
        jacobian_text,
        jacobian_columns,
        steps=jacobian_steps,
        steps_doc=jacobian_steps_doc,
        coordinates=jacobian_coordinates,
        matrix="Jacobian",
    )
    _VIEWS[d.HvpResult] = View(
        hvp_body, hvp_text, trace=hvp_trace, trace_doc=hvp_trace_doc, steps=hvp_steps, steps_doc=hvp_steps_doc
    )
    _VIEWS[d.HessianResult] = View(
        hessian_body,
        hessian_text,
        trace_doc=hessian_trace_doc,
        steps_doc=hessian_steps_doc,
        blocks=hessian_blocks,
        coordinates=hessian_coordinates,
        matrix="Hessian",
    )
    _VIEWS[d.ImplicitResult] = View(implicit_body, implicit_text)


def _trace_rows(result, columns: tuple):
    from .explain import trace_rows

    return trace_rows(result.problem.values, columns[0], columns[1])


def _trace_table(result, columns: tuple, digits: int) -> str:
    from .explain import trace_table
    from .graph import collector_paused

    with collector_paused():
        return trace_text(trace_table(result.problem.values, columns[0], columns[1]), digits, columns[2], columns[3])


def _trace_doc(result, columns: tuple) -> dict:
    return trace_json(_trace_rows(result, columns))


def result_json(result, trace: bool = False, steps: bool = False) -> dict:
    """The JSON document of a result at a point (with what --trace / --steps add)."""
    v = view(result)
    p = result.problem
    doc = {"inputs": written_inputs(p.inputs), "point": p.point_dict(), **v.body(result)}
    extra: dict[str, Any] = {}
    if trace and v.trace_doc is not None:
        extra["trace"] = v.trace_doc(result)
    elif trace and v.columns is not None:
        extra["trace"] = _trace_doc(result, v.columns(result))
    if steps and v.steps_doc is not None:
        extra[v.steps_key] = v.steps_doc(result)
    if v.inline:
        doc.update(extra)
    doc["warnings"] = warnings_json(result.warnings)
    if not v.inline:
        doc.update(extra)
    return doc


def result_text(result, digits: int, trace: bool = False, steps: bool = False) -> str:
    """The text of a result at a point: --trace, then --steps, before it (after it for trace)."""
    v = view(result)
    parts = []
    if v.blocks is not None:
        parts = v.blocks(result, digits, trace, steps) if trace or steps else []
    else:
        if trace and v.trace is not None:
            parts.append(v.trace(result, digits))
        elif trace and v.columns is not None:
            parts.append(_trace_table(result, v.columns(result), digits))
        if steps and v.steps is not None:
            parts.append(v.steps(result, digits))
    text = v.text(result, digits)
    return "\n\n".join([text, *parts] if v.inline else [*parts, text])


# -- check -----------------------------------------------------------------------------

_CHECK_MARK = {"pass": "ok", "fail": "FAIL", "kink": "kink", "skip": "skip"}
_MARK_STYLE = {"ok": "green", "FAIL": "bold red", "kink": "yellow"}  # on a colour terminal


def _err(e: float) -> str:
    e = float(e)
    if e != e:
        return "NaN"
    if e == 0:
        return "0"
    if e == float("inf"):
        return "inf"
    return f"{e:.1e}"


def _check_reference(result) -> str:
    """What the AD derivatives were checked against, in words."""
    if result.against == "grad":
        return "the --grad formula"
    if result.against == "forward":
        return "forward mode"
    return f"{result.method} differences"


def _check_columns(result, digits: int, row) -> tuple[list[str], list[str]]:
    """Headers and cells of the value columns for one row's kind of check."""

    def v(x):
        return fmt_value(x, digits)

    if result.against == "grad":
        return ["AD", "your formula", "FD"], [v(row.ad), v(row.expected), v(row.fd)]
    if result.against == "forward":
        if result.dot:
            return ["(uᵀJ)·v", "u·(Jv)"], [v(row.ad), v(row.forward)]
        return ["reverse", "forward"], [v(row.ad), v(row.forward)]
    return ["AD", f"{result.method} FD"], [v(row.ad), v(row.fd)]


def check_failure_line(result, row, digits: int, prefix: str = "") -> str:
    """One self-contained line naming the derivative, the point and both values."""

    def v(x):
        return fmt_value(x, digits)

    where = result.point_text(row.point_index, digits, focus=row.input)
    if result.against == "grad":
        what = f"AD {v(row.ad)} but your formula gives {v(row.expected)}"
    elif result.against == "forward":
        what = f"reverse mode {v(row.ad)} but forward mode {v(row.forward)}"
    else:
        what = f"AD {v(row.ad)} but {result.method} differences give {v(row.fd)}"
    line = f"{prefix}{paint('FAIL', _MARK_STYLE['FAIL'])} {result.label(row)} at {where}: {what} (abs err {_err(row.abs_err)}, rel err {_err(row.rel_err)})"
    return line + (f"; {row.note}" if row.note else "")


def _tolerance_text(result) -> str:
    return f"rtol {result.rtol:g}, atol {result.atol:g}"


def _check_summary(result, digits: int) -> str:
    n = len(result.rows)
    nf, nk, ns = result.count("fail"), result.count("kink"), result.count("skip")
    noun = "dot-product tests" if result.dot else "derivatives"
    extra = ""
    if nk:
        extra += f", {nk} at or near a kink"
    if ns:
        extra += f", {ns} not checked"
    tail = f"{extra} ({_tolerance_text(result)})"
    if nf:
        return (
            f"{paint('FAIL', _MARK_STYLE['FAIL'])}: {nf} of {n} {noun} disagree with {_check_reference(result)}{tail}"
        )
    return f"{paint('ok', _MARK_STYLE['ok'])}: {n - nk - ns} of {n} {noun} agree with {_check_reference(result)}{tail}"


def check_text(result, digits: int = 6, max_failures: int = 20) -> str:
    """The check report: a table of derivatives (one point) or of the worst error
    per derivative (several points), a summary line, and one line per failure."""
    out: list[str] = []
    if result.single:
        out.append(_check_point_table(result, digits))
        notes = [f"note: {result.label(r)}: {r.note}" for r in result.rows if r.note and r.status != "fail"]
        out += notes
    else:
        out.append(_check_points_header(result, digits))
        if result.rows:
            out.append(_check_points_table(result))
    out.append(_check_summary(result, digits))
    fails = result.failures
    out += [check_failure_line(result, r, digits) for r in fails[:max_failures]]
    if len(fails) > max_failures:
        out.append(f"... and {len(fails) - max_failures} more failures (--quiet or --json lists them all)")
    return "\n".join(out)


def check_quiet_text(result, digits: int = 6, prefix: str = "") -> str:
    """--quiet: nothing when everything passes, else one line per failing derivative."""
    return "\n".join(check_failure_line(result, r, digits, prefix) for r in result.failures)


def _check_point_table(result, digits: int) -> str:
    if not result.rows:
        return ""
    headers, _ = _check_columns(result, digits, result.rows[0])
    body = []
    for r in result.rows:
        _, cells = _check_columns(result, digits, r)
        body.append([result.label(r), *cells, _err(r.abs_err), _err(r.rel_err), _CHECK_MARK[r.status]])
    hs = ["", *headers, "abs err", "rel err", ""]
    return table_text(hs, body, right=set(range(1, len(hs) - 1)), styles={len(hs) - 1: _MARK_STYLE})


def _check_points_header(result, digits: int) -> str:
    n, s = result.n_points, len(result.skipped)
    line = f"{n} point{'s' if n != 1 else ''}" + (f" ({result.source})" if result.source else "")
    line += f": {n - s} checked"
    if s:
        line += f", {s} skipped (undefined there)"
        if result.skip_reason:
            line += f"\nfirst skipped: {result.skip_reason}"
    return line


def _check_points_table(result) -> str:
    """Per derivative: the largest errors over the points, where, and the counts."""
    groups: dict[tuple, list] = {}
    for r in result.rows:
        groups.setdefault((r.output, r.input), []).append(r)
    body = []
    for rows in groups.values():
        compared = [r for r in rows if r.status in ("pass", "fail")]
        worst = max(compared, key=lambda r: r.rel_err if r.rel_err == r.rel_err else math.inf, default=None)
        max_abs = max((r.abs_err for r in compared), key=lambda e: e if e == e else math.inf, default=0.0)
        body.append(
            [
                result.label(rows[0]),
                _err(max_abs),
                _err(worst.rel_err) if worst else "-",
                f"point {worst.point_index + 1}" if worst is not None and worst.point_index is not None else "-",
                str(sum(r.status == "fail" for r in rows)),
                str(sum(r.status == "kink" for r in rows)),
            ]
        )
    return table_text(["", "max abs err", "max rel err", "worst at", "fail", "kink"], body, right={1, 2, 4, 5})


def check_row_json(result, r) -> dict:
    d: dict[str, Any] = {
        "input": r.input,
        "ad": r.ad,
        "fd": r.fd,
        "abs_err": r.abs_err,
        "rel_err": r.rel_err,
        "ok": r.ok,
        "status": r.status,
    }
    if r.output is not None:
        d["output"] = r.output
    if r.expected is not None:
        d["expected"] = r.expected
    if r.forward is not None:
        d["forward"] = r.forward
    if r.point_index is not None:
        d["point_index"] = r.point_index
        d["at"] = result.point(r.point_index)
    if r.note:
        d["note"] = r.note
    return d


def check_json(result) -> dict:
    """SPEC section 4: {"ok", "rows": [{"input", "ad", "fd", "abs_err", "rel_err", "ok"}...], "rtol", "atol"}."""
    doc: dict[str, Any] = {
        "ok": result.ok,
        "inputs": result.inputs,
        "against": result.against,
        "mode": result.mode,
        "method": result.method,
        "step": result.step,
        "rtol": result.rtol,
        "atol": result.atol,
    }
    if result.single:
        doc["point"] = result.point(None)
    else:
        doc.update(
            points=result.n_points,
            checked=result.n_points - len(result.skipped),
            skipped=len(result.skipped),
            skipped_points=[{"point_index": i, "at": result.point(i)} for i in result.skipped],
            source=result.source,
        )
        if result.skip_reason:
            doc["skip_reason"] = result.skip_reason
    if result.seed is not None:
        doc["seed"] = result.seed
    if result.dot:
        doc["u"], doc["v"] = result.dot
    doc["failed"] = result.count("fail")
    doc["kinks"] = result.count("kink")
    doc["rows"] = [check_row_json(result, r) for r in result.rows]
    return doc


def _max_rel(result) -> float | None:
    """The largest relative error over the derivatives compared (None if none was)."""
    errs = [r.rel_err for r in result.rows if r.status in ("pass", "fail")]
    if not errs:
        return None
    return max(errs, key=lambda e: e if e == e else math.inf)


def cases_text(res, digits: int = 6) -> str:
    """One row per case, a summary, and a line per failing derivative (file:line: FAIL ...)."""
    body = []
    for c in res.cases:
        r = c.result
        state = "FAIL" if not r.ok else ("kink" if r.count("kink") else "ok")
        against = "formula" if r.against == "grad" else ("forward" if r.against == "forward" else "FD")
        body.append(
            [
                str(c.line),
                " ".join(c.expression.split()),
                " ".join(c.at.split()),
                against,
                "-" if (m := _max_rel(r)) is None else _err(m),
                state,
            ]
        )
    out = [
        table_text(
            ["line", "expression", "point", "against", "rel err", ""], body, right={0, 4}, styles={5: _MARK_STYLE}
        )
    ]
    n, nf = len(res.cases), sum(not c.result.ok for c in res.cases)
    tol = f"rtol {res.rtol:g}, atol {res.atol:g}"
    if nf:
        out.append(f"{paint('FAIL', _MARK_STYLE['FAIL'])}: {nf} of {n} case{'s' if n != 1 else ''} fail ({tol})")
    else:
        out.append(f"{paint('ok', _MARK_STYLE['ok'])}: {n} case{'s' if n != 1 else ''} pass ({tol})")
    for c in res.cases:
        q = check_quiet_text(c.result, digits, prefix=f"{res.label}:{c.line}: ")
        if q:
            out.append(q)
    return "\n".join(out)


def cases_quiet_text(res, digits: int = 6) -> str:
    lines = [check_quiet_text(c.result, digits, prefix=f"{res.label}:{c.line}: ") for c in res.cases]
    return "\n".join(q for q in lines if q)


def cases_json(res) -> dict:
    cases, rows = [], []
    for c in res.cases:
        r = c.result
        cases.append(
            {
                "line": c.line,
                "expression": c.expression,
                "at": c.at,
                "grad": c.grad,
                "against": r.against,
                "ok": r.ok,
                "failed": r.count("fail"),
                "kinks": r.count("kink"),
                "max_rel_err": _max_rel(r),
            }
        )
        for row in r.rows:
            d = check_row_json(r, row)
            d["case"] = c.line
            rows.append(d)
    return {
        "ok": res.ok,
        "cases_file": res.label,
        "method": res.method,
        "rtol": res.rtol,
        "atol": res.atol,
        "cases": cases,
        "rows": rows,
    }


# -- descend and plot ----------------------------------------------------------------------

DESCEND_SHOWN = 25  # iterations shown in full; more are elided in the middle unless --all


def _descend_rows(result, digits: int) -> tuple[list[str], list[list[str]], set[int]]:
    names = result.inputs
    has_note = any(it.note for it in result.iterations)
    headers = ["k"] + [names[p] for p in result.wrt] + ["f", "‖∇f‖", "step"] + (["note"] if has_note else [])
    rows = []
    for it in result.iterations:
        row = [str(it.k)] + [fmt_value(it.point[p], digits) for p in result.wrt]
        row += [
            fmt_value(it.value, digits),
            fmt_value(it.grad_norm, 3),
            "" if it.step is None else fmt_value(it.step, 3),
        ]
        if has_note:
            row.append(it.note)
        rows.append(row)
    right = set(range(len(headers) - (1 if has_note else 0)))
    return headers, rows, right


def descend_text(result, digits: int = 6, show_all: bool = False) -> str:
    """The table of iterations (k, point, f, ‖∇f‖, step), how it stopped, and where."""
    names = result.inputs
    headers, rows, right = _descend_rows(result, digits)
    hidden = 0
    if not show_all and len(rows) > DESCEND_SHOWN:
        head, tail = 10, 10
        hidden = len(rows) - head - tail
        rows = rows[:head] + [["⋮"] + [""] * (len(headers) - 1)] + rows[-tail:]
    parts = [table_text(headers, rows, right)]
    if hidden:
        parts[0] += f"\n({hidden} iterations not shown; --all shows every one)"
    if result.error is not None:
        return "\n\n".join(parts)
    import textwrap

    fixed = [
        f"{n}={fmt_value(v, digits)}" for k, (n, v) in enumerate(zip(names, result.final.point)) if k not in result.wrt
    ]
    final = result.final
    summary = textwrap.wrap(result.summary, 80, break_on_hyphens=False)
    if fixed:
        summary.append(f"(fixed: {', '.join(fixed)})")
    lines = [(names[p], fmt_value(final.point[p], digits)) for p in result.wrt]
    lines += [("f", fmt_value(final.value, digits)), ("‖∇f‖", fmt_value(final.grad_norm, 3))]
    parts.append("\n".join(summary))
    parts.append(aligned(lines))
    return "\n\n".join(parts)


def descend_json(result) -> dict:
    names = result.inputs
    moving = [names[p] for p in result.wrt]
    iterations = []
    for it in result.iterations:
        d: dict[str, Any] = {
            "k": it.k,
            "point": by_input(names, list(range(len(names))), it.point),
            "value": it.value,
            "gradient": by_input(names, result.wrt, it.gradient),
            "grad_norm": it.grad_norm,
            "step": it.step,
        }
        if it.note:
            d["note"] = it.note
        iterations.append(d)
    final = result.final
    doc: dict[str, Any] = {
        "inputs": written_inputs(names),
        "wrt": moving,
        "method": result.method,
        "lr": result.lr,
        "momentum": result.momentum,
        "tol": result.tol,
        "iters": result.max_iters,
        "start": by_input(names, list(range(len(names))), result.iterations[0].point),
        "point": by_input(names, list(range(len(names))), final.point),
        "value": final.value,
        "grad_norm": final.grad_norm,
        "iterations_done": final.k,
        "converged": result.converged,
        "stopped": result.stopped,
        "reason": result.summary,
        "iterations": iterations,
        "warnings": warnings_json(result.warnings),
    }
    if result.error is not None:
        doc["error"] = error_json(result.error)["error"]
    return doc


def plot_text(data, digits: int = 3, width: int | None = None) -> str:
    """The terminal plot: at most 80 columns (fewer if the terminal is narrower)."""
    from .plot import MAX_WIDTH, text_plot

    return text_plot(data, min(width or _width(), MAX_WIDTH), digits=digits)


def plot_json(data) -> dict:
    """The samples; null where f is undefined."""

    def col(a):
        return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=np.float64)]

    from .plot import gap_intervals

    doc: dict[str, Any] = {
        "inputs": data.graph.input_names,
        "wrt": data.name,
        "range": [data.lo, data.hi],
        "at": data.fixed,
        "x": col(data.x),
        "f": col(data.f),
        "df": col(data.df),
    }
    if data.d2f is not None:
        doc["d2f"] = col(data.d2f)
    doc["gaps"] = [list(g_) for g_ in gap_intervals(data)]
    doc["warnings"] = warnings_json(data.warnings)
    return doc


# -- adcli diff ------------------------------------------------------------------------


def partial_label(output: str, wrt: tuple[str, ...]) -> str:
    """∂f/∂x, ∂²f/∂x², ∂²f/∂x∂y."""
    if len(wrt) == 1:
        return f"∂{output}/∂{wrt[0]}"
    if wrt[0] == wrt[1]:
        return f"∂²{output}/∂{wrt[0]}²"
    return f"∂²{output}/∂{wrt[0]}∂{wrt[1]}"


def _latex_partial(output: str, wrt: tuple[str, ...]) -> str:
    from .formula import latex_name

    f = latex_name(output)
    if len(wrt) == 1:
        return rf"\frac{{\partial {f}}}{{\partial {latex_name(wrt[0])}}}"
    a, b = (latex_name(w) for w in wrt)
    den = rf"\partial {a}^{{2}}" if wrt[0] == wrt[1] else rf"\partial {a} \, \partial {b}"
    return rf"\frac{{\partial^{{2}} {f}}}{{{den}}}"


def _python_name(output: str, wrt: tuple[str, ...]) -> str:
    return f"d{'2' if len(wrt) == 2 else ''}{output}_d{'_d'.join(wrt)}"


def diff_text(result, fmt: str = "text") -> str:
    """The named steps, one a line, then one line per partial (SPEC §8)."""
    from .formula import latex_name

    st = {"text": "adcli", "latex": "latex", "python": "numpy"}[fmt]
    pr = result.printer(st)
    lines = []
    for i, name in result.steps.items():
        body = pr.text(i, named_root=True)
        if fmt == "latex":
            lines.append(rf"{latex_name(name)} &= {body} \\")
        else:
            lines.append(f"{name} = {body}")
    for p in result.partials:
        body = pr.text(p.node)
        if fmt == "latex":
            lines.append(rf"{_latex_partial(p.output, p.wrt)} &= {body} \\")
        elif fmt == "python":
            lines.append(f"{_python_name(p.output, p.wrt)} = {body}")
        else:
            lines.append(f"{partial_label(p.output, p.wrt)} = {body}")
    if fmt == "latex":
        if lines:
            lines[-1] = lines[-1].removesuffix(r" \\")
        return "\n".join([r"\begin{align*}", *lines, r"\end{align*}"])
    if fmt == "python":
        return "\n".join(["import numpy as np", "", *lines])
    return "\n".join(lines)


def diff_json(result) -> dict:
    pr = result.printer("adcli")
    return {
        "inputs": result.inputs,
        "wrt": result.wrt,
        "order": result.order,
        "steps": [{"name": n, "formula": pr.text(i, named_root=True)} for i, n in result.steps.items()],
        "partials": [
            {
                "output": p.output,
                "wrt": list(p.wrt),
                "label": partial_label(p.output, p.wrt),
                "formula": pr.text(p.node),
            }
            for p in result.partials
        ],
        "operations": result.operations(),
    }


# -- trace and steps for teaching notes: LaTeX and Markdown ------------------------------


def _tex_mark(name: str, mark: str) -> str:
    r"""v1 -> \bar{v}_{1}; x -> \dot{x}."""
    from .formula import latex_name

    tex = latex_name(name)
    base, sep, sub = tex.partition("_{")
    return rf"\{mark}{{{base}}}" + (f"_{{{sub}" if sep else "")


def _tex_num(v: Any, digits: int) -> str:
    s = fmt_value(v, digits)
    if "e" in s and s not in ("inf", "-inf"):
        m, _, ex = s.partition("e")
        s = rf"{m} \cdot 10^{{{int(ex)}}}"
    s = s.replace("inf", r"\infty")
    return rf"\left({s}\right)" if s.startswith("-") else s


def _definition(g, i: int, st: str) -> str:
    from .formula import show
    from .symbolic import definition_of

    if g.nodes[i].is_input:
        return r"\text{input}" if st == "latex" else "input"
    return show(definition_of(g, i), st)


def _partial(g, node: int, k: int, st: str) -> str:
    from .formula import show
    from .symbolic import local_partial_of

    return show(local_partial_of(g, node, k, ans_as_call=st != "latex"), st)


def _tex_factor(p: str) -> str:
    return rf"\left({p}\right)" if (" " in p or p.startswith("-")) else p


def trace_table_doc(result, digits: int, fmt: str) -> str:
    """The trace as a LaTeX tabular or a Markdown table."""
    from . import explain
    from .formula import latex_name

    values = result.problem.values
    g = values.graph
    rows = explain.trace_rows(values, result.adjoints, result.tangents)
    adj_h, tan_h = _adjoint_headers(result), _tangent_headers(result)
    n_adj = len(rows[0].adjoints or []) if rows else 0
    n_tan = len(rows[0].tangents or []) if rows else 0
    if fmt == "latex":
        labels = explain.output_labels(g)
        extra = (
            [f"${_tex_mark('v', 'bar')}$"]
            if n_adj == 1
            else [f"${_tex_mark('v', 'bar')}$ (${latex_name(labels[o])}$)" for o in g.outputs[:n_adj]]
        )
        wrt = [g.input_names[k] for k in result.wrt]
        extra += [rf"${_tex_mark('v', 'dot')}$ ($\partial/\partial {latex_name(w)}$)" for w in wrt[:n_tan]]
        head = ["node", "definition", "value", *extra, ""]
        lines = [r"\begin{tabular}{ll" + "r" * (1 + n_adj + n_tan) + "l}", " & ".join(head) + r" \\", r"\hline"]
        for r in rows:
            nums = [r.value, *(r.adjoints or []), *(r.tangents or [])]
            cells = [f"${latex_name(r.name)}$", f"${_definition(g, r.node, 'latex')}$"]
            cells += [
                f"${_tex_num(v, digits).removeprefix(chr(92) + 'left(').removesuffix(chr(92) + 'right)')}$"
                for v in nums
            ]
            cells.append(f"$= {latex_name(r.output)}$" if r.output else "")
            lines.append(" & ".join(cells) + r" \\")
        lines.append(r"\end{tabular}")
        return "\n".join(lines)
    from .explain import bar, dot

    head = ["node", "definition", "value", *(adj_h or [bar("v")] * n_adj), *(tan_h or [dot("v")] * n_tan), ""]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---", "--:", *["--:"] * (n_adj + n_tan), "---"]) + "|",
    ]
    for r in rows:
        definition = _definition(g, r.node, "display").replace("|", r"\|")
        cells = [f"`{r.name}`", definition if r.op == "input" else f"`{definition}`", fmt_value(r.value, digits)]
        cells += [fmt_value(a, digits) for a in (r.adjoints or [])]
        cells += [fmt_value(t, digits) for t in (r.tangents or [])]
        cells.append(f"= {r.output}" if r.output else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def steps_align(result, digits: int) -> str:
    r"""The adjoint (or tangent) steps as one ``align*`` block: ``\bar{v}_{1} \mathrel{+}= ...``."""
    from . import explain
    from .formula import latex_name

    values = result.problem.values
    g = values.graph
    lines: list[str] = []
    outs = explain.output_labels(g)
    for st in result.adjoint_steps or []:
        for s in st:
            t = g.nodes[s.target].name or ""
            if s.source < 0:
                y = outs.get(s.target, "y")
                lines.append(
                    rf"{_tex_mark(y, 'bar')} = {_tex_mark(t, 'bar')} &= {_tex_num(s.total, digits)} && \text{{(seed)}}"
                )
                continue
            src = g.nodes[s.source].name or ""
            p = _partial(g, s.source, s.arg, "latex")
            lines.append(
                rf"{_tex_mark(t, 'bar')} &\mathrel{{+}}= {_tex_mark(src, 'bar')} \cdot "
                rf"\frac{{\partial {latex_name(src)}}}{{\partial {latex_name(t)}}} = "
                rf"{_tex_num(s.adjoint, digits)} \cdot {_tex_factor(p)} = {_tex_num(s.contribution, digits)}"
                rf" && ({_tex_mark(t, 'bar')} = {_tex_num(s.total, digits)})"
            )
    for st in result.tangent_steps or []:
        for s in st:
            name = g.nodes[s.node].name or ""
            sym = [
                rf"{_tex_factor(_partial(g, s.node, k, 'latex'))} {_tex_mark(g.nodes[a].name or '', 'dot')}"
                for k, a, _, _ in s.terms
            ]
            nums = [rf"{_tex_num(p, digits)} \cdot {_tex_num(t, digits)}" for _, _, p, t in s.terms]
            lines.append(
                rf"{_tex_mark(name, 'dot')} &= {' + '.join(sym) or '0'} = {' + '.join(nums) or '0'} = {_tex_num(s.total, digits)}"
            )
    return "\n".join([r"\begin{align*}", " \\\\\n".join(lines), r"\end{align*}"])


def trace_result_doc(result, digits: int, steps: bool, fmt: str) -> str:
    """``trace --format latex|markdown``: the table, then the steps as an ``align*`` block."""
    parts = [trace_table_doc(result, digits, fmt)]
    if steps:
        block = steps_align(result, digits)
        parts.append(block if fmt == "latex" else "$$\n" + block.replace("align*", "aligned") + "\n$$")
    return "\n\n".join(parts)
