"""What ``--trace`` and ``--steps`` show, as plain data and text lines.

Everything here reads what the engines recorded while they computed (the
values, the adjoints, the :class:`~adcli.reverse.AdjointStep` and
:class:`~adcli.forward.TangentStep` records); nothing is recomputed for
display. Layout (tables, colour) is :mod:`adcli.render`'s business.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .evaluate import Values
from .forward import TangentStep
from .graph import Graph, fmt_value, format_template
from .reverse import AdjointStep

_SIMPLE = re.compile(r"^[^\W\d]\w*$")
_NUMBER = re.compile(r"^-?\d+(\.\d*)?(e[-+]?\d+)?$")


def cells(text: str) -> int:
    """Terminal columns a line takes: combining marks (the bar in v̄) take none."""
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def wrap(line: str, width: int = 80, indent: int = 8) -> list[str]:
    """Break a long step line before its ``=`` and ``(`` joints, so a step reads
    at 80 columns; the continuation lines are indented."""
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


def _mark(name: str, mark: str) -> str:
    """Put a combining mark on a name's first letter: v1 -> v̄1, x2 -> ẋ2."""
    return name[0] + mark + name[1:] if name else mark


def bar(name: str) -> str:
    return _mark(name, "\u0304")


def dot(name: str) -> str:
    return _mark(name, "\u0307")


def num(v: Any, digits: int) -> str:
    """A number inside a formula: negatives in parentheses."""
    s = fmt_value(v, digits)
    return f"({s})" if s.startswith("-") else s


def output_letter(g: Graph, first: str = "y") -> str:
    """y, as textbooks call the output in a trace (f in results), unless an input or a
    named step is already called that (or that and digits: y1, y2 for several outputs)."""
    names = {n.name for n in g.nodes if n.name is not None}
    names.update(g.input_names)
    other = "f" if first == "y" else "y"
    return next(
        c
        for c in (first, other, "out", "_" + first)
        if c not in names and not any(n.startswith(c) and n[len(c) :].isdigit() for n in names)
    )


def output_names(g, prefer: str = "f") -> list[str]:
    """f for one output, f1, f2... for several (another letter if an input is called f)."""
    if g.output_labels is not None and len(g.output_labels) == len(g.outputs):
        return list(g.output_labels)
    f = output_letter(g, prefer)
    return [f] if len(g.outputs) == 1 else [f"{f}{k + 1}" for k in range(len(g.outputs))]


def output_labels(g: Graph) -> dict[int, str]:
    """y for a single output, y1, y2... for several."""
    y = output_letter(g)
    if len(g.outputs) == 1:
        return {g.outputs[0]: y}
    labels: dict[int, str] = {}
    for k, o in enumerate(g.outputs, start=1):
        labels.setdefault(o, f"{y}{k}")
    return labels


@dataclass
class TraceRow:
    node: int
    name: str
    op: str
    args: list[str]
    definition: str  # "x1 - x2"; "input" for inputs
    value: Any
    output: str  # "y" on an output row, else ""
    adjoints: list[Any] | None = None  # one per reverse sweep (output)
    tangents: list[Any] | None = None  # one per forward sweep (input)


def trace_rows(
    values: Values, adjoints: list[list[Any]] | None = None, tangents: list[list[Any]] | None = None
) -> list[TraceRow]:
    """One row per node in evaluation order (constants are shown inline), with
    the adjoints of each reverse sweep or the tangents of each forward sweep."""
    g = values.graph
    outs = output_labels(g)
    rows = []
    for i in g.rows():
        node = g.nodes[i]
        is_input = node.is_input
        row = TraceRow(
            node=i,
            name=node.name or "",
            op=node.op.name,
            args=[g.ref(a) for a in node.args],
            definition="input" if is_input else g.definition(i),
            value=values.vals[i],
            output=outs.get(i, ""),
        )
        if adjoints is not None:
            row.adjoints = [0.0 if a[i] is None else a[i] for a in adjoints]
        if tangents is not None:
            row.tangents = [0.0 if t[i] is None else t[i] for t in tangents]
        rows.append(row)
    return rows


def partial_formula(g: Graph, node_id: int, k: int) -> str:
    """The local derivative ∂v/∂(argument k) as a formula in the node names:
    the registry's rule itself, interpreted on symbols (no second copy)."""
    from .formula import show
    from .symbolic import local_partial_of

    return show(local_partial_of(g, node_id, k), "display")


def _atomic(formula: str) -> bool:
    """A name, a non-negative number, or one function call ``f(...)``."""
    if _SIMPLE.match(formula) or (_NUMBER.match(formula) and not formula.startswith("-")):
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


def _factor(formula: str) -> str:
    return formula if _atomic(formula) else f"({formula})"


def adjoint_lines(values: Values, steps: list[AdjointStep], digits: int) -> list[str]:
    """``v̄1 += v̄2 · ∂v2/∂v1 = 1 · (2·v1) = 1 · (-2) = -2   (v̄1 = -2)``, grouped
    under the node that passes its adjoint back, in the order they happened."""
    g = values.graph
    outs = output_labels(g)
    lines: list[str] = []
    current = None
    for s in steps:
        t = g.ref(s.target)
        if s.source < 0:
            y = outs.get(s.target, "y")
            lines.append(f"{bar(y)} = {bar(t)} = {fmt_value(s.total, digits)}   (seed)")
            continue
        src = g.nodes[s.source].name or ""
        if s.source != current:
            current = s.source
            lines.append(f"{src} = {g.definition(s.source)}")
        formula = partial_formula(g, s.source, s.arg)
        chain = f"{num(s.adjoint, digits)} · {_factor(formula)}"
        if not _NUMBER.match(formula):
            chain += f" = {num(s.adjoint, digits)} · {num(s.partial, digits)}"
        lines += wrap(
            f"  {bar(t)} += {bar(src)} · ∂{src}/∂{t} = {chain} = {fmt_value(s.contribution, digits)}"
            f"   ({bar(t)} = {fmt_value(s.total, digits)})"
        )
    return lines


def tangent_lines(values: Values, steps: list[TangentStep], digits: int) -> list[str]:
    """``v̇3 = v2·v̇1 + v1·v̇2 = 2·0 + 1·(-1) = -1``: the dual-number rule per node."""
    g = values.graph
    lines = []
    for s in steps:
        name = g.nodes[s.node].name or ""
        symbolic, numeric = [], []
        for k, a, p, t in s.terms:
            formula = partial_formula(g, s.node, k)
            an = g.nodes[a].name or ""
            if formula == "1":
                symbolic.append(dot(an))
                numeric.append(num(t, digits))
            elif formula == "-1":
                symbolic.append(f"-{dot(an)}")
                numeric.append(f"-{num(t, digits)}")
            else:
                symbolic.append(f"{_factor(formula)}·{dot(an)}")
                numeric.append(f"{num(p, digits)}·{num(t, digits)}")
        sym = " + ".join(symbolic).replace("+ -", "- ")
        nums = " + ".join(numeric).replace("+ -", "- ")
        total = fmt_value(s.total, digits)
        chain = [sym] + [t for t in (nums, total) if t != sym]
        if len(chain) == 3 and chain[1] == chain[2]:
            chain.pop()
        lines += wrap(f"{dot(name)} = " + " = ".join(chain), 78)
    return lines


def seed_line(g: Graph, direction: list[Any], digits: int) -> str:
    parts = [
        f"{dot(g.nodes[i].name or '')} = {fmt_value(0.0 if d is None else d, digits)}"
        for i, d in zip(g.inputs, direction)
    ]
    return "seed " + ", ".join(parts)


def value_lines(values: Values, digits: int) -> list[str]:
    """The forward pass: ``v1 = x1 - x2 = 1 - 2 = -1`` per node."""
    g = values.graph
    lines = []
    for i in g.rows():
        node = g.nodes[i]
        name = node.name or ""
        if node.is_input:
            lines.append(f"{name} = {fmt_value(values.vals[i], digits)}")
            continue
        shown = [num(values.vals[a], digits) if not g.is_const(a) else g.ref(a) for a in node.args]
        numeric = format_template(node.op.show, shown, node, g)
        lines.append(f"{name} = {g.definition(i)} = {numeric} = {fmt_value(values.vals[i], digits)}")
    return lines
